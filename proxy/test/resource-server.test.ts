/**
 * The proxy as an OAuth resource server with required scopes: the 401 challenge names them, a token
 * lacking any gets 403 insufficient_scope with the full list (step-up), and nothing reaches the
 * upstream until the token carries them all.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { type Harness, startHarness } from './helpers/harness.ts';

let upstream: Server;
let h: Harness;
let forwarded = 0;

before(async () => {
  upstream = createServer((req, res) => {
    forwarded++;
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} })),
    );
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const { port } = upstream.address() as AddressInfo;
  h = await startHarness({
    upstream: createHttpUpstream({ url: new URL(`http://127.0.0.1:${port}/mcp`), log: () => {} }),
    requiredScopes: ['mcp', 'mcp:write'],
  });
});

after(async () => {
  await h?.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' });
const metadata = 'resource_metadata="https://demo.mcp.test/.well-known/oauth-protected-resource/mcp"';

async function post(token?: string) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(`${h.url}/mcp`, { method: 'POST', headers, body });
}

test('the 401 challenge names the required scopes', async () => {
  const res = await post();
  assert.equal(res.status, 401);
  assert.equal(res.headers.get('www-authenticate'), `Bearer scope="mcp mcp:write", ${metadata}`);
});

test('a token lacking a required scope gets 403 insufficient_scope with the full list', async () => {
  forwarded = 0;
  for (const scope of [undefined, '', 'mcp', 'mcp:write other']) {
    const res = await post(await h.token({ scope }));
    assert.equal(res.status, 403, `scope ${scope}`);
    const challenge = res.headers.get('www-authenticate') ?? '';
    assert.match(
      challenge,
      /^Bearer error="insufficient_scope", error_description="the token lacks the scopes? /,
    );
    assert.match(challenge, new RegExp(`, scope="mcp mcp:write", ${metadata}$`));
    const answer = (await res.json()) as { error: { code: number } };
    assert.equal(answer.error.code, -31003);
  }
  assert.equal(forwarded, 0);
  assert.equal(h.audit.at(-1)!.outcome, 'denied');
});

test('a token with every required scope (and more) passes', async () => {
  const res = await post(await h.token({ scope: 'openid mcp:write mcp' }));
  assert.equal(res.status, 200);
  assert.equal(forwarded, 1);
});
