/**
 * A Prometheus gauge: a value that is set, or goes up and down.
 *
 * @module
 */
import { sampleLine } from './exposition.ts';
import { Metric, type MetricOptions, type Series } from './metric.ts';

/** One labelled series of a gauge. */
export class GaugeSeries implements Series {
  readonly labelText: string;
  value = 0;

  constructor(labelText: string) {
    this.labelText = labelText;
  }

  /** @throws TypeError when `value` is not a number. */
  set(value: number): void {
    if (typeof value !== 'number') throw new TypeError(`a gauge holds a number, not ${typeof value}`);
    this.value = value;
  }

  inc(by = 1): void {
    this.set(this.value + by);
  }

  dec(by = 1): void {
    this.set(this.value - by);
  }
}

/**
 * A gauge with fixed label names.
 *
 * @example
 * const ready = new Gauge({ name: 'x_ready', help: '1 once ready.' });
 * ready.labels().set(1);
 */
export class Gauge<const L extends readonly string[] = readonly []> extends Metric<L, GaugeSeries> {
  constructor(options: MetricOptions<L>) {
    super(options, 'gauge', (labelText) => new GaugeSeries(labelText));
  }

  protected override write(series: GaugeSeries): string {
    return sampleLine(this.name, series.labelText, series.value);
  }
}
