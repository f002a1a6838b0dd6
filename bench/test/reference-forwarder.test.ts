import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createChildren } from '../load/children.ts';
import { freePort, startFixture, startReferenceForwarder } from '../load/mesh.ts';
import { TEXT_1K, toolsCallBody } from '../load/payload.ts';

const main = join(import.meta.dirname, '..', 'load', 'reference-forwarder.ts');
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

describe('reference forwarder', () => {
  const children = createChildren();
  let forwarderUrl = '';
  let stopFixture: () => Promise<void>;

  before(async () => {
    const fixture = await startFixture(children);
    stopFixture = () => fixture.child.stop();
    const port = await freePort();
    await startReferenceForwarder(children, { main, port, upstreamUrl: fixture.url, nodeArgs: [] });
    forwarderUrl = `http://127.0.0.1:${port}/mcp`;
  });
  after(() => children.stopAll());

  it('answers /readyz once it listens', async () => {
    const res = await fetch(new URL('/readyz', forwarderUrl));
    assert.equal(res.status, 200);
  });

  it('forwards a POST and copies back the status, the content type and the body', async () => {
    const res = await fetch(forwarderUrl, { method: 'POST', headers, body: toolsCallBody(42) });
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/json');
    assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(text)));
    const body = JSON.parse(text) as { id: number; result: { content: { text: string }[] } };
    assert.equal(body.id, 42);
    assert.equal(body.result.content[0]!.text, TEXT_1K);
  });

  it("passes the upstream's error statuses on", async () => {
    const res = await fetch(forwarderUrl, { method: 'POST', headers, body: '{not json' });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /parse error/);
  });

  it('refuses other methods than POST', async () => {
    const res = await fetch(forwarderUrl);
    assert.equal(res.status, 405);
    assert.equal(res.headers.get('allow'), 'POST');
  });

  it('answers 502 when the upstream is gone', async () => {
    await stopFixture();
    const res = await fetch(forwarderUrl, { method: 'POST', headers, body: toolsCallBody(1) });
    assert.equal(res.status, 502);
  });

  for (const [env, message] of [
    [{}, /TESSERA_PROXY_UPSTREAM_URL: "" must be an http:\/\/ URL/],
    [{ TESSERA_PROXY_UPSTREAM_URL: 'https://127.0.0.1/mcp' }, /must be an http:\/\/ URL/],
    [{ TESSERA_PROXY_UPSTREAM_URL: 'http://127.0.0.1/mcp' }, /TESSERA_PROXY_LISTEN: "" must be host:port/],
    [
      { TESSERA_PROXY_UPSTREAM_URL: 'http://127.0.0.1/mcp', TESSERA_PROXY_LISTEN: '127.0.0.1:65536' },
      /TESSERA_PROXY_LISTEN: "127.0.0.1:65536" must be host:port/,
    ],
    [
      { TESSERA_PROXY_UPSTREAM_URL: 'http://127.0.0.1/mcp', TESSERA_PROXY_LISTEN: '127.0.0.1' },
      /must be host:port/,
    ],
  ] as const) {
    it(`exits with status 2 on bad settings: ${JSON.stringify(env)}`, () => {
      const run = spawnSync(process.execPath, [main], { env: { ...env }, encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.status, 2);
      assert.match(run.stderr, message);
    });
  }
});
