/**
 * A Prometheus histogram: observations counted into fixed buckets, written as cumulative
 * `_bucket{le=...}` series up to `+Inf`, then `_sum` and `_count`.
 *
 * @module
 */
import { formatValue, sampleLine } from './exposition.ts';
import { Metric, type MetricOptions, type Series } from './metric.ts';

/** One labelled series of a histogram. */
export class HistogramSeries implements Series {
  readonly labelText: string;
  readonly #bounds: readonly number[];
  /** Observations per bucket, not cumulative; the last slot is above every bound (`+Inf`). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(labelText: string, bounds: readonly number[]) {
    this.labelText = labelText;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** @throws TypeError when `value` is not a number, or NaN. */
  observe(value: number): void {
    if (typeof value !== 'number' || Number.isNaN(value))
      throw new TypeError(`a histogram observes numbers, not ${String(value)}`);
    const bounds = this.#bounds;
    let i = 0;
    // A bucket counts the observations up to and including its bound.
    while (i < bounds.length && value > bounds[i]!) i++;
    this.counts[i]!++;
    this.sum += value;
    this.count++;
  }
}

/** What a histogram is created with: its label names and its bucket bounds. */
export interface HistogramOptions<L extends readonly string[]> extends MetricOptions<L> {
  /** Upper bounds, finite and strictly increasing; `+Inf` is always added. */
  buckets: readonly number[];
}

/**
 * A histogram with fixed label names and buckets.
 *
 * @example
 * const duration = new Histogram({ name: 'x_seconds', help: 'Time.', labelNames: ['method'],
 *   buckets: [0.001, 0.01, 0.1, 1] });
 * duration.labels('ping').observe(0.0042);
 */
export class Histogram<const L extends readonly string[] = readonly []> extends Metric<L, HistogramSeries> {
  /** The `le="..."` label of each bucket, `+Inf` last. */
  readonly #le: readonly string[];

  constructor(options: HistogramOptions<L>) {
    const bounds = checkBuckets(options.name, options.buckets);
    super(options, 'histogram', (labelText) => new HistogramSeries(labelText, bounds), ['le']);
    this.#le = [...bounds, Number.POSITIVE_INFINITY].map((b) => `le="${formatValue(b)}"`);
  }

  protected override write(series: HistogramSeries): string {
    // `le` first, then the metric's own labels.
    const rest = series.labelText === '' ? '' : `,${series.labelText}`;
    let text = '';
    let cumulative = 0;
    for (let i = 0; i < this.#le.length; i++) {
      cumulative += series.counts[i]!;
      text += sampleLine(`${this.name}_bucket`, `${this.#le[i]}${rest}`, cumulative);
    }
    text += sampleLine(`${this.name}_sum`, series.labelText, series.sum);
    text += sampleLine(`${this.name}_count`, series.labelText, series.count);
    return text;
  }
}

function checkBuckets(name: string, buckets: readonly number[]): readonly number[] {
  if (!Array.isArray(buckets) || buckets.length === 0)
    throw new TypeError(`histogram ${name}: buckets must be a non-empty array of numbers`);
  for (let i = 0; i < buckets.length; i++) {
    const b = buckets[i];
    if (typeof b !== 'number' || !Number.isFinite(b))
      throw new TypeError(`histogram ${name}: bucket ${String(b)} is not a finite number (+Inf is implicit)`);
    if (i > 0 && b <= buckets[i - 1]!)
      throw new TypeError(
        `histogram ${name}: buckets must increase strictly, ${b} follows ${buckets[i - 1]}`,
      );
  }
  return Object.freeze([...buckets]);
}
