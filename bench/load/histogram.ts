/**
 * Latency histograms: Node's own HDR histogram (`perf_hooks.createHistogram`, 3 significant figures),
 * fed with nanoseconds, summarised in milliseconds.
 *
 * @module
 */
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { LatencySummary } from './protocol.ts';

/** Records up to 60 s per value with 0.1 % resolution: 1 µs or better below 1 ms. */
export function latencyHistogram(): RecordableHistogram {
  return createHistogram({ lowest: 1, highest: 60e9, figures: 3 });
}

/** Records a duration in nanoseconds (the histogram's floor is 1 ns). */
export function recordNs(h: RecordableHistogram, ns: bigint): void {
  h.record(ns > 0n ? ns : 1n);
}

const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;

export function summarise(h: RecordableHistogram): LatencySummary {
  if (h.count === 0) {
    return { count: 0, min_ms: 0, mean_ms: 0, p50_ms: 0, p90_ms: 0, p99_ms: 0, p999_ms: 0, max_ms: 0 };
  }
  return {
    count: h.count,
    min_ms: ms(h.min),
    mean_ms: ms(h.mean),
    p50_ms: ms(h.percentile(50)),
    p90_ms: ms(h.percentile(90)),
    p99_ms: ms(h.percentile(99)),
    p999_ms: ms(h.percentile(99.9)),
    max_ms: ms(h.max),
  };
}
