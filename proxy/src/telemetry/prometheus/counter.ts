/**
 * A Prometheus counter: a value that only goes up.
 *
 * @module
 */
import { sampleLine } from './exposition.ts';
import { Metric, type MetricOptions, type Series } from './metric.ts';

/** One labelled series of a counter. */
export class CounterSeries implements Series {
  readonly labelText: string;
  value = 0;

  constructor(labelText: string) {
    this.labelText = labelText;
  }

  /**
   * Adds `by` (default 1); `inc(0)` makes the series exist at zero.
   *
   * @throws RangeError when `by` is negative or not a number.
   */
  inc(by = 1): void {
    if (typeof by !== 'number' || !(by >= 0))
      throw new RangeError(`a counter only goes up: cannot add ${String(by)}`);
    this.value += by;
  }
}

/**
 * A counter with fixed label names.
 *
 * @example
 * const errors = new Counter({ name: 'x_errors_total', help: 'Errors.', labelNames: ['kind'] });
 * errors.labels('timeout').inc();
 */
export class Counter<const L extends readonly string[] = readonly []> extends Metric<L, CounterSeries> {
  constructor(options: MetricOptions<L>) {
    super(options, 'counter', (labelText) => new CounterSeries(labelText));
  }

  protected override write(series: CounterSeries): string {
    return sampleLine(this.name, series.labelText, series.value);
  }
}
