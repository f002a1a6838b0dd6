/**
 * The SSRF guard on real sockets: loopback is refused unless allow-listed, also when a name
 * resolves to it; redirects are answered, not followed; oversized answers are cut off.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createOutboundFetch } from '../src/credentials/oauth/outbound-fetch.ts';
import { createOutboundPolicy, parseCidrList } from '../src/credentials/oauth/outbound-policy.ts';

let server: Server;
let base: string;
let hits = 0;

before(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/redirect') {
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      res.end();
    } else if (req.url === '/big') {
      res.end('x'.repeat(64 * 1024));
    } else {
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(() => new Promise((r) => server.close(r)));

describe('outbound fetch', () => {
  test('loopback is refused without an allow-list, before any connection', async () => {
    const f = createOutboundFetch({ policy: createOutboundPolicy([]) });
    const before = hits;
    await assert.rejects(f.send(`${base}/`), /forbidden address/);
    // A name is resolved and the address checked: localhost is loopback too.
    await assert.rejects(f.send(`https://localhost:${new URL(base).port}/`), /not allowed/);
    await assert.rejects(f.send('https://[::1]/'), /forbidden address/);
    await assert.rejects(f.send('file:///etc/passwd'), /https URL/);
    assert.equal(hits, before);
    await f.close();
  });

  test('allow-listed: answered; redirects returned as they are; big answers cut off', async () => {
    const f = createOutboundFetch({
      policy: createOutboundPolicy(parseCidrList('127.0.0.1')),
      maxBytes: 1024,
    });
    const ok = await f.send(`${base}/`);
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { ok: true });
    const redirect = await f.send(`${base}/redirect`);
    assert.equal(redirect.status, 302);
    await assert.rejects(f.send(`${base}/big`), /larger than 1024 bytes/);
    await assert.rejects(f.send(`http://user:pw@127.0.0.1:1/`), /credentials/);
    await f.close();
  });
});
