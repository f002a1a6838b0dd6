import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { connect, createServer } from 'node:tls';
import { certificateProblem, createCertificates } from './self-signed-cert.ts';

const hosts = ['tessera-injector.tessera-system.svc', 'tessera-injector.tessera-system', '127.0.0.1'];
const certs = createCertificates({ hosts });

test('the serving certificate is trusted through the CA for a DNS name and an IP address', async (t) => {
  const server = createServer({ key: certs.key, cert: certs.cert }, (s) => s.end('ok'));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const { port } = server.address() as AddressInfo;
  for (const servername of ['tessera-injector.tessera-system.svc', undefined]) {
    const socket = connect({
      port,
      host: '127.0.0.1',
      ca: certs.caCert,
      ...(servername ? { servername } : {}),
    });
    const [data] = await once(socket, 'data');
    assert.equal(String(data), 'ok');
    socket.destroy();
  }
});

test('a fresh set has no problem; a set for other hosts, another CA or a near expiry has one', () => {
  assert.equal(certificateProblem(certs, hosts), undefined);
  assert.match(certificateProblem(certs, ['other.svc']) ?? '', /does not cover other.svc/);
  const other = createCertificates({ hosts });
  assert.match(certificateProblem({ ...certs, caCert: other.caCert }, hosts) ?? '', /not signed by the CA/);
  assert.match(certificateProblem({ ...certs, key: other.key }, hosts) ?? '', /key does not match/);
  const later = new Date(Date.now() + 340 * 86_400_000);
  assert.match(certificateProblem(certs, hosts, { now: later }) ?? '', /too soon/);
  assert.match(certificateProblem({ ...certs, cert: 'garbage' }, hosts) ?? '', /does not parse/);
});

test('at least one host is required', () => {
  assert.throws(() => createCertificates({ hosts: [] }), TypeError);
});
