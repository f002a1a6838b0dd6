import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createBackoff } from './backoff.ts';

/** A random source returning `values` in turn, then repeating the last one. */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

describe('createBackoff', () => {
  test('with random 0 the delay is half the cap, doubling each attempt', () => {
    const b = createBackoff({ initialMs: 100, maxMs: 100_000, random: () => 0 });
    assert.deepEqual(
      Array.from({ length: 6 }, () => b.next()),
      [50, 100, 200, 400, 800, 1600],
    );
  });

  test('with random just below 1 the delay approaches the full cap', () => {
    const b = createBackoff({ initialMs: 100, maxMs: 100_000, random: () => 0.999_999 });
    assert.deepEqual(
      Array.from({ length: 4 }, () => b.next()),
      [100, 200, 400, 800],
    );
  });

  test('the delay stays within [cap/2, cap] for any random value', () => {
    for (const r of [0, 0.1, 0.25, 0.5, 0.75, 0.9, 0.999_999]) {
      const b = createBackoff({ initialMs: 500, maxMs: 30_000, random: () => r });
      for (let attempt = 0; attempt < 12; attempt++) {
        const cap = Math.min(30_000, 500 * 2 ** attempt);
        const d = b.next();
        assert.ok(
          d >= cap / 2 && d <= cap,
          `attempt ${attempt}, random ${r}: ${d} outside [${cap / 2}, ${cap}]`,
        );
      }
    }
  });

  test('growth stops at maxMs', () => {
    const b = createBackoff({ initialMs: 500, maxMs: 30_000, random: () => 1 });
    const delays = Array.from({ length: 10 }, () => b.next());
    assert.deepEqual(delays, [500, 1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  test('many attempts never overflow past the cap', () => {
    const b = createBackoff({ initialMs: 1, maxMs: 60_000, random: () => 1 });
    let last = 0;
    for (let i = 0; i < 1000; i++) last = b.next();
    assert.equal(last, 60_000);
  });

  test('jitter follows the random source', () => {
    const b = createBackoff({ initialMs: 1000, maxMs: 100_000, random: sequence(0, 0.5, 1) });
    assert.deepEqual([b.next(), b.next(), b.next()], [500, 1500, 4000]);
  });

  test('reset starts again from the initial delay', () => {
    const b = createBackoff({ initialMs: 100, maxMs: 100_000, random: () => 1 });
    b.next();
    b.next();
    b.next();
    b.reset();
    assert.deepEqual([b.next(), b.next()], [100, 200]);
  });

  test('reset before any attempt is harmless', () => {
    const b = createBackoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
    b.reset();
    assert.equal(b.next(), 100);
  });

  test('an initial delay above the maximum is capped from the start', () => {
    const b = createBackoff({ initialMs: 5000, maxMs: 1000, random: () => 1 });
    assert.equal(b.next(), 1000);
  });

  test('delays are whole milliseconds', () => {
    const b = createBackoff({ initialMs: 3, maxMs: 1000, random: () => 0.333 });
    for (let i = 0; i < 10; i++) assert.ok(Number.isInteger(b.next()));
  });

  test('Math.random is the default source and stays within bounds', () => {
    const b = createBackoff({ initialMs: 100, maxMs: 100 });
    for (let i = 0; i < 100; i++) {
      const d = b.next();
      assert.ok(d >= 50 && d <= 100, String(d));
    }
  });
});
