import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createAdmission, createTokenBucket } from './token-bucket.ts';

test('a burst is admitted at once, then tokens come at the rate', () => {
  let t = 0;
  const b = createTokenBucket({ ratePerSecond: 10, burst: 3, now: () => t });
  assert.equal(b.tryTake(), true);
  assert.equal(b.tryTake(), true);
  assert.equal(b.tryTake(), true);
  assert.equal(b.tryTake(), false);
  assert.equal(b.msUntilNext(), 100);
  t = 100;
  assert.equal(b.tryTake(), true);
  assert.equal(b.tryTake(), false);
  t = 10_000;
  // Refill never exceeds the burst.
  for (let i = 0; i < 3; i++) assert.equal(b.tryTake(), true);
  assert.equal(b.tryTake(), false);
});

test('admission: waiters are served in order within the wait; those who would wait longer are refused at once', async () => {
  const bucket = createTokenBucket({ ratePerSecond: 20, burst: 1 });
  const admit = createAdmission({ bucket, ratePerSecond: 20, maxWaitMs: 180 });
  const order: number[] = [];
  // 1 immediately, then one token every 50 ms: the 2nd to 4th fit within 180 ms, the rest do not.
  const results = await Promise.all(
    Array.from({ length: 6 }, (_, i) =>
      admit().then((ok) => {
        if (ok) order.push(i);
        return ok;
      }),
    ),
  );
  assert.deepEqual(results, [true, true, true, true, false, false]);
  assert.deepEqual(order, [0, 1, 2, 3], 'admitted in arrival order');
});

test('admission: an aborted waiter is refused and does not take a token', async () => {
  const bucket = createTokenBucket({ ratePerSecond: 20, burst: 1 });
  const admit = createAdmission({ bucket, ratePerSecond: 20, maxWaitMs: 1_000 });
  assert.equal(await admit(), true);
  const abort = new AbortController();
  const waiting = admit(abort.signal);
  const next = admit();
  abort.abort();
  assert.equal(await waiting, false);
  assert.equal(await next, true, 'the token goes to the next waiter');
  assert.equal(await admit(AbortSignal.abort()), false);
});
