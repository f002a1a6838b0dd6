import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRateLimiter, shareOf } from './rate-limit.ts';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('per-user bucket: capacity at once, then the refill rate, with Retry-After', () => {
  const c = clock();
  const limiter = createRateLimiter({ now: c.now });
  const limits = { perUser: { capacity: 2, refillPerSecond: 0.5 }, perTool: undefined };
  assert.equal(limiter.take(limits, 'a', undefined).limited, false);
  assert.equal(limiter.take(limits, 'a', undefined).limited, false);
  assert.deepEqual(limiter.take(limits, 'a', undefined), { limited: true, retryAfterS: 2, scope: 'user' });
  // Another user has a bucket of their own.
  assert.equal(limiter.take(limits, 'b', undefined).limited, false);
  c.advance(2000);
  assert.equal(limiter.take(limits, 'a', undefined).limited, false);
  assert.equal(limiter.take(limits, 'a', undefined).limited, true);
});

test('per-tool bucket: keyed by user and tool; a refused call takes no token from either bucket', () => {
  const c = clock();
  const limiter = createRateLimiter({ now: c.now });
  const limits = {
    perUser: { capacity: 3, refillPerSecond: 1 },
    perTool: { capacity: 1, refillPerSecond: 0.1 },
  };
  assert.equal(limiter.take(limits, 'a', 'search').limited, false);
  assert.deepEqual(limiter.take(limits, 'a', 'search'), { limited: true, retryAfterS: 10, scope: 'tool' });
  assert.equal(limiter.take(limits, 'a', 'fetch').limited, false);
  // The refused search call did not spend the user's third token.
  assert.equal(limiter.take(limits, 'a', undefined).limited, false);
  assert.equal(limiter.take(limits, 'a', undefined).limited, true);
});

test('changed limits start a fresh bucket; no limits admit everything', () => {
  const limiter = createRateLimiter({ now: () => 0 });
  const one = { perUser: { capacity: 1, refillPerSecond: 1 }, perTool: undefined };
  assert.equal(limiter.take(one, 'a', undefined).limited, false);
  assert.equal(limiter.take(one, 'a', undefined).limited, true);
  const two = { perUser: { capacity: 2, refillPerSecond: 1 }, perTool: undefined };
  assert.equal(limiter.take(two, 'a', undefined).limited, false);
  for (let i = 0; i < 100; i++)
    assert.equal(limiter.take({ perUser: undefined, perTool: undefined }, 'a', 't').limited, false);
});

test('memory is bounded: the least recently used bucket goes first', () => {
  const limiter = createRateLimiter({ maxKeys: 3, now: () => 0 });
  const limits = { perUser: { capacity: 1, refillPerSecond: 1 }, perTool: undefined };
  for (const u of ['a', 'b', 'c']) limiter.take(limits, u, undefined);
  limiter.take(limits, 'a', undefined); // a is now the most recent (and empty)
  limiter.take(limits, 'd', undefined); // evicts b
  assert.equal(limiter.size, 3);
  assert.equal(limiter.take(limits, 'a', undefined).limited, true);
  assert.equal(limiter.take(limits, 'b', undefined).limited, false);
});

test('replicas: each proxy keeps its share of the capacity and the refill rate', () => {
  assert.deepEqual(shareOf({ capacity: 10, refillPerSecond: 2 }, 1), { capacity: 10, refillPerSecond: 2 });
  assert.deepEqual(shareOf({ capacity: 10, refillPerSecond: 2 }, 4), { capacity: 2, refillPerSecond: 0.5 });
  // Never a bucket that can admit nothing.
  assert.deepEqual(shareOf({ capacity: 3, refillPerSecond: 1 }, 5), { capacity: 1, refillPerSecond: 0.2 });
  const c = clock();
  const limiter = createRateLimiter({ now: c.now, replicas: 2 });
  const limits = { perUser: { capacity: 4, refillPerSecond: 1 }, perTool: undefined };
  assert.equal(limiter.take(limits, 'a', undefined).limited, false);
  assert.equal(limiter.take(limits, 'a', undefined).limited, false);
  assert.deepEqual(limiter.take(limits, 'a', undefined), { limited: true, retryAfterS: 2, scope: 'user' });
  c.advance(2000);
  assert.equal(limiter.take(limits, 'a', undefined).limited, false);
  assert.equal(limiter.take(limits, 'a', undefined).limited, true);
});
