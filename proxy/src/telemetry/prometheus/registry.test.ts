import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Counter } from './counter.ts';
import { Gauge } from './gauge.ts';
import { Histogram } from './histogram.ts';
import { MetricsRegistry } from './registry.ts';

describe('MetricsRegistry', () => {
  test('writes every family in registration order, line by line in the 0.0.4 format', () => {
    const registry = new MetricsRegistry();
    const c = registry.register(
      new Counter({
        name: 'app_events_total',
        help: 'Events, by "kind".\nSecond line \\ end.',
        labelNames: ['kind'],
      }),
    );
    const h = registry.register(new Histogram({ name: 'app_seconds', help: 'Time.', buckets: [0.5] }));
    const g = registry.register(new Gauge({ name: 'app_info', help: 'Info.', labelNames: ['path'] }));
    c.labels('a "quoted"\nvalue\\').inc(3);
    h.labels().observe(0.25);
    h.labels().observe(7);
    g.labels('C:\\dir').set(Number.POSITIVE_INFINITY);
    assert.equal(registry.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    const text = registry.metrics();
    assert.ok(text.endsWith('\n'), 'the last line ends in a line feed');
    assert.deepEqual(text.split('\n'), [
      '# HELP app_events_total Events, by "kind".\\nSecond line \\\\ end.',
      '# TYPE app_events_total counter',
      'app_events_total{kind="a \\"quoted\\"\\nvalue\\\\"} 3',
      '# HELP app_seconds Time.',
      '# TYPE app_seconds histogram',
      'app_seconds_bucket{le="0.5"} 1',
      'app_seconds_bucket{le="+Inf"} 2',
      'app_seconds_sum 7.25',
      'app_seconds_count 2',
      '# HELP app_info Info.',
      '# TYPE app_info gauge',
      'app_info{path="C:\\\\dir"} +Inf',
      '',
    ]);
  });

  test('two registries with the same metrics share no series', () => {
    const make = () => {
      const registry = new MetricsRegistry();
      const c = registry.register(new Counter({ name: 'x_total', help: 'X.', labelNames: ['k'] }));
      return { registry, c };
    };
    const a = make();
    const b = make();
    a.c.labels('only-a').inc();
    b.c.labels('only-b').inc(2);
    assert.match(a.registry.metrics(), /^x_total\{k="only-a"\} 1$/m);
    assert.doesNotMatch(a.registry.metrics(), /only-b/);
    assert.match(b.registry.metrics(), /^x_total\{k="only-b"\} 2$/m);
    assert.doesNotMatch(b.registry.metrics(), /only-a/);
  });

  test('a name registered twice is refused, and the registry is unchanged', () => {
    const registry = new MetricsRegistry();
    registry.register(new Gauge({ name: 'dup', help: 'First.' }));
    assert.throws(
      () => registry.register(new Counter({ name: 'dup', help: 'Second.' })),
      /metric dup is already registered/,
    );
    assert.throws(
      () => registry.register({ names: ['fresh', 'dup'], expose: () => 'fresh 1\n' }),
      /metric dup is already registered/,
    );
    // 'fresh' was not half-registered by the refused collector.
    registry.register(new Gauge({ name: 'fresh', help: 'Fresh.' }));
    assert.equal(
      registry.metrics(),
      '# HELP dup First.\n# TYPE dup gauge\ndup 0\n# HELP fresh Fresh.\n# TYPE fresh gauge\nfresh 0\n',
    );
  });

  test('an empty registry writes nothing', () => {
    assert.equal(new MetricsRegistry().metrics(), '');
  });
});
