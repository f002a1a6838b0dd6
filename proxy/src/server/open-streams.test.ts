import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProxyConfig } from '../ir/proxy-config.ts';
import type { Principal } from '../policies/authn.ts';
import { compilePolicy } from '../policies/policy-engine.ts';
import { createOpenStreams, type OpenStream, refusal } from './open-streams.ts';

const alice: Principal = { name: 'alice@example.com', subject: 'a', groups: [], clientId: '', claims: {} };
const configFor = (spec: Parameters<typeof compilePolicy>[0]) =>
  ({ policy: { engine: compilePolicy(spec) } }) as unknown as ProxyConfig;
const granted = {
  grants: [{ users: ['alice@example.com'], groups: [] }],
  rules: [
    {
      id: 'no-secrets',
      effect: 'DENY' as const,
      principals: undefined,
      methods: ['resources/read'],
      targets: ['secret:*'],
      condition: '',
    },
  ],
};

test('refusal: none while the stream and each URI are allowed, else the first reason', () => {
  const config = configFor(granted);
  assert.equal(refusal(config, alice, { method: 'http/get-stream', uris: [] }), undefined);
  assert.equal(refusal(config, alice, { method: 'subscriptions/listen', uris: ['note://a'] }), undefined);
  assert.match(
    refusal(config, alice, { method: 'subscriptions/listen', uris: ['note://a', 'secret://x'] }) ?? '',
    /^secret:\/\/x: .*no-secrets/,
  );
  const bob = { ...alice, name: 'bob@example.com' };
  assert.match(refusal(config, bob, { method: 'http/get-stream', uris: [] }) ?? '', /bob@example\.com/);
});

function stream(closed: string[]): OpenStream {
  return { token: 't', method: 'http/get-stream', uris: [], close: (why) => closed.push(why) };
}

test('a stream whose token has already expired is closed as it is added', () => {
  const streams = createOpenStreams({ now: () => 10_000 });
  const closed: string[] = [];
  streams.add(stream(closed), { ...alice, expiresAtMs: 9_000 });
  assert.deepEqual(closed, ['the token that opened the stream has expired']);
  assert.equal(streams.size, 0);
});

test('a stream removed, or one whose token has no expiry, is never closed by a timer', () => {
  const streams = createOpenStreams({ now: () => 10_000 });
  const closed: string[] = [];
  const remove = streams.add(stream(closed), { ...alice, expiresAtMs: 3_600_000 });
  streams.add(stream(closed), alice);
  streams.add(stream(closed), { ...alice, expiresAtMs: Number.NaN });
  assert.equal(streams.size, 3);
  remove!();
  remove!();
  assert.equal(streams.size, 2);
  assert.deepEqual(closed, []);
});

test('a principal holds at most maxPerPrincipal streams; a stream that ends, however it ends, frees its place', async () => {
  let clock = 10_000;
  const streams = createOpenStreams({ maxPerPrincipal: 2, now: () => clock });
  const closed: string[] = [];
  const first = streams.add(stream(closed), alice);
  assert.ok(streams.add(stream(closed), { ...alice, name: 'alias', expiresAtMs: 10_050 }));
  // The cap counts the subject, whatever the name: the same user under another token is the same user.
  assert.equal(streams.add(stream(closed), alice), undefined);
  assert.equal(streams.size, 2);
  assert.equal(streams.held(alice), 2);
  const bob = { ...alice, name: 'bob@example.com', subject: 'b' };
  assert.ok(streams.add(stream(closed), bob));

  first!();
  const third = streams.add(stream(closed), alice);
  assert.ok(third);
  assert.equal(streams.add(stream(closed), alice), undefined);

  // One closed because its token expired makes room too.
  clock = 10_050;
  await sleep(80);
  assert.deepEqual(closed, ['the token that opened the stream has expired']);
  assert.ok(streams.add(stream(closed), alice));
  assert.equal(streams.add(stream(closed), alice), undefined);
});
