/**
 * The egress credential client against a real HTTP/2 Connect `CredentialService` (a scripted peer):
 * caching until expiry, single flight, bounded size, short negative caching, validation of what the
 * control plane answers, and failing closed when it cannot answer.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import type { CredentialResponseSchema } from '@tessera/api/mesh/v1/credentials';
import { createCredentialClient } from '../src/egress/credential-client.ts';
import { TesseraError } from '../src/errors.ts';
import { createMeshTransport, type MeshTransport } from '../src/mesh-api/mesh-transport.ts';
import { type CredentialPeer, startCredentialPeer } from './helpers/credential-peer.ts';

const TOKEN = 'm'.repeat(40);
let peer: CredentialPeer;
let transport: MeshTransport;
let clock = 1_000_000;
const now = () => clock;

function client(overrides: { maxEntries?: number; transport?: MeshTransport } = {}) {
  return createCredentialClient({
    transport: overrides.transport ?? transport,
    server: 'github',
    defaultTtlMs: 60_000,
    maxEntries: overrides.maxEntries ?? 100,
    errorTtlMs: 2_000,
    now,
  });
}

before(async () => {
  peer = await startCredentialPeer(TOKEN, (r) => ({
    headers: [{ name: 'Authorization', value: `Bearer up-${r.user}` }],
  }));
  transport = createMeshTransport({ controlPlaneUrl: peer.url, meshToken: TOKEN });
});
after(() => peer.close());
beforeEach(() => {
  peer.calls.length = 0;
  peer.script = (r) => ({ headers: [{ name: 'Authorization', value: `Bearer up-${r.user}` }] });
});

test('a burst for one user asks the control plane once, with the mesh token, server and user', async () => {
  const c = client();
  const results = await Promise.all(Array.from({ length: 20 }, () => c.get('alice')));
  for (const r of results)
    assert.deepEqual(r, { headers: { authorization: 'Bearer up-alice' }, connectUrl: undefined });
  assert.equal(peer.calls.length, 1);
  assert.equal(peer.calls[0]!.authorization, `Bearer ${TOKEN}`);
  assert.equal(peer.calls[0]!.request.server, 'github');
  assert.equal(peer.calls[0]!.request.user, 'alice');
  await c.get('bob');
  assert.equal(peer.calls.length, 2, 'another user is another call');
});

test('a credential is cached until shortly before expires_at, then asked for again', async () => {
  peer.script = (r) => ({
    headers: [{ name: 'x-api-key', value: `k-${r.user}-${peer.calls.length}` }],
    expiresAt: timestampFromMs(clock + 120_000),
  });
  const c = client();
  assert.equal((await c.get('alice')).headers['x-api-key'], 'k-alice-1');
  clock += 100_000; // 20 s before expiry: still cached
  assert.equal((await c.get('alice')).headers['x-api-key'], 'k-alice-1');
  clock += 15_000; // 5 s before expiry: inside the margin
  assert.equal((await c.get('alice')).headers['x-api-key'], 'k-alice-2');
  assert.equal(peer.calls.length, 2);
});

test('without expires_at the default TTL applies; an already expired credential is used once, not cached', async () => {
  const c = client();
  await c.get('alice');
  clock += 59_000;
  await c.get('alice');
  assert.equal(peer.calls.length, 1);
  clock += 2_000;
  await c.get('alice');
  assert.equal(peer.calls.length, 2);

  peer.script = () => ({
    headers: [{ name: 'x-api-key', value: 'stale' }],
    expiresAt: timestampFromMs(clock - 1),
  });
  const d = client();
  assert.equal((await d.get('carol')).headers['x-api-key'], 'stale');
  await d.get('carol');
  assert.equal(peer.calls.length, 4);
  assert.equal(d.size(), 0);
});

test('the cache is bounded: the least recently used user leaves first', async () => {
  const c = client({ maxEntries: 2 });
  await c.get('a');
  await c.get('b');
  await c.get('a'); // a is now the most recent
  await c.get('c'); // evicts b
  assert.equal(c.size(), 2);
  assert.equal(peer.calls.length, 3);
  await c.get('a');
  assert.equal(peer.calls.length, 3, 'a stayed');
  await c.get('b');
  assert.equal(peer.calls.length, 4, 'b was evicted');
});

test('connect_url is returned, and cached only briefly', async () => {
  peer.script = () => ({ connectUrl: 'https://tessera.example.com/connect/github?user=alice' });
  const c = client();
  assert.deepEqual(await c.get('alice'), {
    headers: {},
    connectUrl: 'https://tessera.example.com/connect/github?user=alice',
  });
  await c.get('alice');
  assert.equal(peer.calls.length, 1);
  clock += 2_001;
  peer.script = () => ({ headers: [{ name: 'authorization', value: 'Bearer connected' }] });
  assert.equal((await c.get('alice')).headers.authorization, 'Bearer connected');
});

test('an answer the proxy cannot use is a failure naming what was wrong', async () => {
  const bad: Array<[MessageInitShape<typeof CredentialResponseSchema>, RegExp]> = [
    [{ headers: [{ name: 'bad name', value: 'x' }] }, /"bad name" is not an HTTP token/],
    [{ headers: [{ name: 'Host', value: 'evil.example' }] }, /"host" may not be set/],
    [{ headers: [{ name: 'cookie', value: 'a=b' }] }, /"cookie" may not be set/],
    [{ headers: [{ name: 'x-key', value: 'a\r\nx-injected: 1' }] }, /line break/],
    [
      {
        headers: [
          { name: 'x-key', value: 'a' },
          { name: 'X-Key', value: 'b' },
        ],
      },
      /appears twice/,
    ],
    [{ connectUrl: 'javascript:alert(1)' }, /connect_url must be http or https/],
    [{ connectUrl: 'not a url' }, /is not a URL/],
    [{ connectUrl: 'https://x.example', headers: [{ name: 'x-key', value: 'a' }] }, /together with headers/],
  ];
  for (const [answer, message] of bad) {
    peer.script = () => answer;
    const c = client();
    await assert.rejects(c.get('alice'), (err: unknown) => {
      assert.ok(err instanceof TesseraError);
      assert.equal(err.code, 'TESSERA_CREDENTIAL_UNAVAILABLE');
      assert.match(err.message, /invalid credential/);
      assert.match(err.message, message);
      return true;
    });
  }
});

test('failures are cached briefly, then asked again', async () => {
  peer.script = () => {
    throw new ConnectError('token endpoint down', Code.Unavailable);
  };
  const c = client();
  await assert.rejects(
    c.get('alice'),
    /unavailable: the control plane is unreachable or failed \(unavailable: token endpoint down\)/,
  );
  await assert.rejects(c.get('alice'), /token endpoint down/);
  assert.equal(peer.calls.length, 1);
  clock += 2_001;
  peer.script = () => ({ headers: [] });
  assert.deepEqual(await c.get('alice'), { headers: {}, connectUrl: undefined });
  assert.equal(peer.calls.length, 2);

  peer.script = () => {
    throw new ConnectError('not your server', Code.PermissionDenied);
  };
  await assert.rejects(client().get('bob'), /refused this proxy \(permission_denied: not your server\)/);
});

test('a wrong mesh token is refused by the control plane, and the proxy fails closed', async () => {
  const wrong = createMeshTransport({ controlPlaneUrl: peer.url, meshToken: 'x'.repeat(40) });
  await assert.rejects(client({ transport: wrong }).get('alice'), /unauthenticated: bad mesh token/);
});

test('with the control plane unreachable: cached credentials keep working, uncached users fail closed', async () => {
  const other = await startCredentialPeer(TOKEN, () => ({ headers: [{ name: 'x-api-key', value: 'k' }] }));
  const c = client({ transport: createMeshTransport({ controlPlaneUrl: other.url, meshToken: TOKEN }) });
  await c.get('alice');
  await other.close();
  assert.equal((await c.get('alice')).headers['x-api-key'], 'k');
  await assert.rejects(c.get('bob'), (err: unknown) => {
    assert.ok(err instanceof TesseraError);
    assert.equal(err.code, 'TESSERA_CREDENTIAL_UNAVAILABLE');
    assert.match(err.message, /the control plane is unreachable/);
    return true;
  });
});
