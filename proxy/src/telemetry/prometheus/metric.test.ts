import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Counter } from './counter.ts';
import { Gauge } from './gauge.ts';
import { Histogram } from './histogram.ts';

const lines = (text: string) => text.split('\n').filter((l) => l !== '');

describe('labels', () => {
  test('one series per distinct label values, the same object on every lookup', () => {
    const c = new Counter({ name: 'x_total', help: 'X.', labelNames: ['method', 'status'] });
    const a = c.labels('ping', '200');
    a.inc();
    c.labels('ping', '200').inc(2);
    c.labels('ping', '500').inc();
    c.labels('tools/call', '200').inc(0);
    assert.equal(c.labels('ping', '200'), a);
    assert.equal(a.value, 3);
    assert.deepEqual(lines(c.expose()), [
      '# HELP x_total X.',
      '# TYPE x_total counter',
      'x_total{method="ping",status="200"} 3',
      'x_total{method="ping",status="500"} 1',
      'x_total{method="tools/call",status="200"} 0',
    ]);
  });

  test('label values that look alike stay apart: no joined key can collide', () => {
    const c = new Counter({ name: 'x_total', help: 'X.', labelNames: ['a', 'b'] });
    c.labels('a,b', 'c').inc();
    c.labels('a', 'b,c').inc(5);
    c.labels('', '').inc(7);
    assert.equal(c.labels('a,b', 'c').value, 1);
    assert.equal(c.labels('a', 'b,c').value, 5);
    assert.equal(c.labels('', '').value, 7);
  });

  test('the wrong number of label values is refused by the type checker and at run time', () => {
    const c = new Counter({ name: 'x_total', help: 'X.', labelNames: ['method', 'status'] });
    // @ts-expect-error: one value for two label names
    assert.throws(() => c.labels('ping'), /x_total: 1 label value\(s\) given, expected 2 \(method, status\)/);
    // @ts-expect-error: three values for two label names
    assert.throws(() => c.labels('ping', '200', 'extra'), /3 label value\(s\) given, expected 2/);
    // @ts-expect-error: a number where a string belongs
    assert.throws(() => c.labels('ping', 200), /label "status" must be a string, got number/);
    const g = new Gauge({ name: 'y', help: 'Y.' });
    // @ts-expect-error: a metric without labels takes no values
    assert.throws(() => g.labels('x'), /1 label value\(s\) given, expected 0 \(none\)/);
    // Nothing was created by the refused calls.
    assert.deepEqual(lines(c.expose()), ['# HELP x_total X.', '# TYPE x_total counter']);
  });

  test('bad names are refused when the metric is created', () => {
    assert.throws(() => new Counter({ name: 'bad-name', help: 'X.' }), /invalid metric name "bad-name"/);
    assert.throws(
      () => new Counter({ name: 'x', help: 'X.', labelNames: ['a-b'] }),
      /invalid label name "a-b"/,
    );
    assert.throws(
      () => new Counter({ name: 'x', help: 'X.', labelNames: ['__a'] }),
      /invalid label name "__a"/,
    );
    assert.throws(
      () => new Counter({ name: 'x', help: 'X.', labelNames: ['a', 'a'] }),
      /label "a" given twice/,
    );
    assert.throws(
      () => new Histogram({ name: 'x', help: 'X.', labelNames: ['le'], buckets: [1] }),
      /label name "le" is reserved for histograms/,
    );
  });
});

describe('remove', () => {
  test('drops exactly the series of those values, and a later lookup starts at zero', () => {
    const g = new Gauge({ name: 'info', help: 'I.', labelNames: ['type', 'version'] });
    g.labels('trust', 'a1').set(1);
    g.labels('trust', 'a2').set(1);
    g.labels('policy', 'p1').set(1);
    assert.equal(g.remove('trust', 'a1'), true);
    assert.equal(g.remove('trust', 'a1'), false, 'already gone');
    assert.equal(g.remove('nothing', 'here'), false);
    assert.deepEqual(lines(g.expose()).slice(2), [
      'info{type="trust",version="a2"} 1',
      'info{type="policy",version="p1"} 1',
    ]);
    assert.equal(g.remove('policy', 'p1'), true);
    assert.equal(g.remove('trust', 'a2'), true);
    assert.deepEqual(lines(g.expose()).slice(2), []);
    assert.equal(g.labels('trust', 'a1').value, 0);
    // @ts-expect-error: remove takes every label value too
    assert.throws(() => g.remove('trust'), /1 label value\(s\) given, expected 2/);
  });

  test('a metric without labels keeps its one series', () => {
    const g = new Gauge({ name: 'ready', help: 'R.' });
    g.labels().set(1);
    assert.equal(g.remove(), false);
    assert.deepEqual(lines(g.expose()).slice(2), ['ready 1']);
  });
});

describe('counters and gauges', () => {
  test('an unlabelled metric exists at zero from the start', () => {
    assert.deepEqual(lines(new Counter({ name: 'c_total', help: 'C.' }).expose()).slice(2), ['c_total 0']);
    assert.deepEqual(lines(new Gauge({ name: 'g', help: 'G.' }).expose()).slice(2), ['g 0']);
  });

  test('a counter only goes up', () => {
    const c = new Counter({ name: 'c_total', help: 'C.' }).labels();
    c.inc(0.5);
    assert.throws(() => c.inc(-1), RangeError);
    assert.throws(() => c.inc(Number.NaN), RangeError);
    // @ts-expect-error: a string is not an increment
    assert.throws(() => c.inc('1'), RangeError);
    assert.equal(c.value, 0.5);
  });

  test('a gauge is set, raised and lowered, and may hold the special values', () => {
    const g = new Gauge({ name: 'g', help: 'G.', labelNames: ['k'] });
    g.labels('a').set(5);
    g.labels('a').inc();
    g.labels('a').dec(3);
    g.labels('inf').set(Number.POSITIVE_INFINITY);
    g.labels('ninf').set(Number.NEGATIVE_INFINITY);
    g.labels('nan').set(Number.NaN);
    // @ts-expect-error: a gauge holds numbers
    assert.throws(() => g.labels('a').set('7'), TypeError);
    assert.deepEqual(lines(g.expose()).slice(2), [
      'g{k="a"} 3',
      'g{k="inf"} +Inf',
      'g{k="ninf"} -Inf',
      'g{k="nan"} NaN',
    ]);
  });
});
