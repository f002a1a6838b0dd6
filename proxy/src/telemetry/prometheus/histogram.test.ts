import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Histogram } from './histogram.ts';

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe('Histogram', () => {
  test('buckets are cumulative, a value on a bound counts in that bucket, +Inf holds everything', () => {
    const h = new Histogram({ name: 'd_seconds', help: 'D.', labelNames: ['m'], buckets: [0.1, 1, 10] });
    const s = h.labels('x');
    for (const v of [0.05, 0.1, 0.5, 1, 3, 50, 1e9]) s.observe(v);
    h.labels('y').observe(2);
    assert.deepEqual(lines(h.expose()), [
      '# HELP d_seconds D.',
      '# TYPE d_seconds histogram',
      'd_seconds_bucket{le="0.1",m="x"} 2',
      'd_seconds_bucket{le="1",m="x"} 4',
      'd_seconds_bucket{le="10",m="x"} 5',
      'd_seconds_bucket{le="+Inf",m="x"} 7',
      `d_seconds_sum{m="x"} ${0.05 + 0.1 + 0.5 + 1 + 3 + 50 + 1e9}`,
      'd_seconds_count{m="x"} 7',
      'd_seconds_bucket{le="0.1",m="y"} 0',
      'd_seconds_bucket{le="1",m="y"} 0',
      'd_seconds_bucket{le="10",m="y"} 1',
      'd_seconds_bucket{le="+Inf",m="y"} 1',
      'd_seconds_sum{m="y"} 2',
      'd_seconds_count{m="y"} 1',
    ]);
  });

  test('without labels, and with negative observations', () => {
    const h = new Histogram({ name: 'd', help: 'D.', buckets: [0, 1] });
    h.labels().observe(-2);
    assert.deepEqual(lines(h.expose()).slice(2), [
      'd_bucket{le="0"} 1',
      'd_bucket{le="1"} 1',
      'd_bucket{le="+Inf"} 1',
      'd_sum -2',
      'd_count 1',
    ]);
  });

  test('NaN and non-numbers are refused and change nothing', () => {
    const s = new Histogram({ name: 'd', help: 'D.', buckets: [1] }).labels();
    assert.throws(() => s.observe(Number.NaN), TypeError);
    // @ts-expect-error: a string is not an observation
    assert.throws(() => s.observe('1'), TypeError);
    assert.equal(s.count, 0);
    assert.equal(s.sum, 0);
  });

  test('buckets must be finite and strictly increasing', () => {
    const make = (buckets: number[]) => () => new Histogram({ name: 'd', help: 'D.', buckets });
    assert.throws(make([]), /non-empty/);
    assert.throws(make([1, 1]), /increase strictly, 1 follows 1/);
    assert.throws(make([2, 1]), /increase strictly/);
    assert.throws(make([1, Number.POSITIVE_INFINITY]), /\+Inf is implicit/);
    assert.throws(make([Number.NaN]), /not a finite number/);
  });

  test('the buckets given are copied, so changing the array later changes nothing', () => {
    const buckets = [1, 2];
    const h = new Histogram({ name: 'd', help: 'D.', buckets });
    buckets[0] = 100;
    h.labels().observe(1.5);
    assert.match(h.expose(), /d_bucket\{le="1"\} 0\nd_bucket\{le="2"\} 1\n/);
  });
});
