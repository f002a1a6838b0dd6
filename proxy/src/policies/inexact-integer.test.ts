import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inexactInteger } from './inexact-integer.ts';

test('finds the first integer beyond ±2^53, with its path', () => {
  assert.equal(inexactInteger(JSON.parse('9007199254740993')), '');
  assert.equal(inexactInteger({ a: [1, 2, { b: -(2 ** 54) }] }), '.a[2].b');
  assert.equal(inexactInteger([0, 1e300]), '[1]');
});

test('safe integers, fractions, non-finite values and other types are fine', () => {
  assert.equal(
    inexactInteger({ a: Number.MAX_SAFE_INTEGER, b: -Number.MAX_SAFE_INTEGER, c: 0.5 }),
    undefined,
  );
  assert.equal(inexactInteger({ d: 'x', e: null, f: true, g: [], h: {} }), undefined);
  assert.equal(inexactInteger(Number.POSITIVE_INFINITY), undefined);
  assert.equal(inexactInteger(undefined), undefined);
});
