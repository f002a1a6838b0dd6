import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLoginThrottle } from './login-throttle.ts';

const limits = { perAccount: 3, perIp: 5, windowMs: 1000, maxKeys: 6 };

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('an account is throttled after its failures, from any IP, until the window ends', () => {
  const c = clock();
  const th = createLoginThrottle(limits, c.now);
  for (const ip of ['1.1.1.1', '2.2.2.2', '3.3.3.3']) {
    assert.ok(th.allowed('Ana@example.com', ip));
    th.failed('Ana@example.com', ip);
  }
  assert.equal(th.allowed('ana@example.com', '4.4.4.4'), false, 'case-insensitive, any IP');
  assert.ok(th.allowed('bob@example.com', '4.4.4.4'), 'other accounts are not affected');
  c.advance(1000);
  assert.ok(th.allowed('ana@example.com', '1.1.1.1'));
});

test('an IP is throttled after failures across accounts', () => {
  const th = createLoginThrottle(limits, clock().now);
  for (let i = 0; i < 5; i++) th.failed(`u${i}@example.com`, '9.9.9.9');
  assert.equal(th.allowed('fresh@example.com', '9.9.9.9'), false);
  assert.ok(th.allowed('fresh@example.com', '8.8.8.8'));
});

test('a success forgets the account failures', () => {
  const th = createLoginThrottle(limits, clock().now);
  th.failed('ana@example.com', '1.1.1.1');
  th.failed('ana@example.com', '1.1.1.1');
  th.succeeded('ana@example.com');
  th.failed('ana@example.com', '1.1.1.1');
  th.failed('ana@example.com', '1.1.1.1');
  assert.ok(th.allowed('ana@example.com', '1.1.1.1'));
});

test('memory stays bounded: the oldest counters make room', () => {
  const th = createLoginThrottle({ ...limits, perAccount: 1 }, clock().now);
  th.failed('first@example.com', '1.1.1.1');
  assert.equal(th.allowed('first@example.com', '7.7.7.7'), false);
  // Each failure adds an account key; with 6 keys at most, the first one is dropped.
  for (let i = 0; i < 5; i++) th.failed(`u${i}@example.com`, '1.1.1.1');
  assert.ok(th.allowed('first@example.com', '7.7.7.7'));
});
