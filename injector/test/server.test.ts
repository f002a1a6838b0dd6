/** The webhook's HTTPS surface on a real socket, with a certificate from its own CA. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Agent, request } from 'undici';
import { review } from '../src/admission.ts';
import { createCertificates } from '../src/self-signed-cert.ts';
import { createWebhookServer } from '../src/server.ts';
import { goldenSidecar } from './helpers/golden-cases.ts';

const certs = createCertificates({ hosts: ['127.0.0.1'] });
let ready = false;
const webhook = createWebhookServer({
  key: certs.key,
  cert: certs.cert,
  ready: () => ready,
  review: (r) => review(r, async () => ({ 'tessera.dev/injection': 'enabled' }), goldenSidecar(true)),
  maxBodyBytes: 64 * 1024,
});
const dispatcher = new Agent({ connect: { ca: certs.caCert } });
let base = '';

before(async () => {
  webhook.server.listen(0, '127.0.0.1');
  await once(webhook.server, 'listening');
  base = `https://127.0.0.1:${(webhook.server.address() as AddressInfo).port}`;
});
after(async () => {
  await dispatcher.close();
  webhook.server.closeAllConnections();
  webhook.server.close();
});

async function post(body: string, contentType = 'application/json') {
  const res = await request(`${base}/mutate`, {
    method: 'POST',
    body,
    headers: { 'content-type': contentType },
    dispatcher,
  });
  return { status: res.statusCode, body: (await res.body.json()) as Record<string, unknown> };
}

const validReview = {
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: {
    uid: 'abc',
    resource: { group: '', version: 'v1', resource: 'pods' },
    namespace: 'mcp',
    operation: 'CREATE',
    object: {
      metadata: { labels: { 'tessera.dev/server': 's' } },
      spec: { containers: [{ name: 'a', ports: [{ name: 'mcp', containerPort: 80 }] }] },
    },
  },
};

test('POST /mutate answers an AdmissionReview with the same uid and a patch', async () => {
  const { status, body } = await post(JSON.stringify(validReview));
  assert.equal(status, 200);
  const response = body.response as Record<string, unknown>;
  assert.equal(response.uid, 'abc');
  assert.equal(response.patchType, 'JSONPatch');
  assert.equal(body.kind, 'AdmissionReview');
});

test('bad requests get 4xx with a clear error, and the server keeps serving', async () => {
  assert.deepEqual(await post('{not json'), {
    status: 400,
    body: { error: 'invalid AdmissionReview: the body is not valid JSON' },
  });
  const wrong = await post(JSON.stringify({ ...validReview, kind: 'Nope' }));
  assert.equal(wrong.status, 400);
  assert.match(String(wrong.body.error), /kind must be AdmissionReview/);
  assert.equal((await post('{}', 'text/plain')).status, 415);
  assert.equal((await post(JSON.stringify({ pad: 'x'.repeat(70 * 1024) }))).status, 413);
  const get = await request(`${base}/mutate`, { dispatcher });
  assert.equal(get.statusCode, 405);
  await get.body.dump();
  assert.equal((await post(JSON.stringify(validReview))).status, 200);
});

test('/healthz is always up; /readyz follows readiness; unknown paths are 404', async () => {
  const get = async (path: string) => {
    const res = await request(`${base}${path}`, { dispatcher });
    await res.body.dump();
    return res.statusCode;
  };
  assert.equal(await get('/healthz'), 200);
  assert.equal(await get('/readyz'), 503);
  ready = true;
  assert.equal(await get('/readyz'), 200);
  assert.equal(await get('/other'), 404);
});

test('setCertificate serves a new certificate to new connections', async () => {
  const next = createCertificates({ hosts: ['127.0.0.1'] });
  webhook.setCertificate(next.key, next.cert);
  const fresh = new Agent({ connect: { ca: next.caCert } });
  try {
    const res = await request(`${base}/healthz`, { dispatcher: fresh });
    assert.equal(res.statusCode, 200);
    await res.body.dump();
  } finally {
    await fresh.close();
  }
  webhook.setCertificate(certs.key, certs.cert);
});
