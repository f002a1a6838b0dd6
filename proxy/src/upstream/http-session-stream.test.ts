import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_RECONNECT, reconnectDelay } from './http-session-stream.ts';

test('reconnectDelay doubles with each failure in a row and stops at maxMs', () => {
  const policy = { baseMs: 100, maxMs: 1_000, maxFailures: 5 };
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 1_000].map((failures) => reconnectDelay(failures, undefined, policy)),
    [100, 200, 400, 800, 1_000, 1_000, 1_000],
  );
});

test('reconnectDelay waits at least the server’s retry, never past maxMs', () => {
  const policy = { baseMs: 100, maxMs: 1_000, maxFailures: 5 };
  assert.equal(reconnectDelay(0, 700, policy), 700, 'a longer retry is honoured');
  assert.equal(reconnectDelay(2, 10, policy), 400, 'a shorter retry does not hurry the backoff');
  assert.equal(reconnectDelay(0, 0, policy), 100);
  assert.equal(reconnectDelay(0, 2 ** 40, policy), 1_000, 'a huge retry is bounded');
});

test('the default policy spans about a minute and a half before giving up', () => {
  const { maxFailures } = DEFAULT_RECONNECT;
  let total = 0;
  for (let failures = 1; failures < maxFailures; failures++)
    total += reconnectDelay(failures, undefined, DEFAULT_RECONNECT);
  assert.equal(reconnectDelay(0, undefined, DEFAULT_RECONNECT), 500);
  assert.ok(total >= 60_000 && total <= 120_000, `waits ${total} ms in all`);
});
