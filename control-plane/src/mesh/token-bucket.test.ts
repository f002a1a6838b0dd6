import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createTokenBucket, takeWithin } from './token-bucket.ts';

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

test('takeWithin waits for a token, or gives up at the deadline', async () => {
  const b = createTokenBucket({ ratePerSecond: 50, burst: 1 });
  assert.equal(await takeWithin(b, 0), true);
  assert.equal(await takeWithin(b, 0), false, 'no token and no time to wait');
  assert.equal(await takeWithin(b, 1_000), true, 'the next token comes within the wait');
});
