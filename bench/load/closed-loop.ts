/**
 * The closed-loop load generator for saturation: `concurrency` workers each send the next request as
 * soon as the previous answer is in, for a warm-up and then a measured window. What completes in
 * the window, over the window, is the throughput the target sustains.
 *
 * @module
 */
import { latencyHistogram, recordNs, summarise } from './histogram.ts';
import type { LoadResult } from './protocol.ts';
import { errorKind } from './target-client.ts';

export interface ClosedLoopOptions {
  send: (id: number) => Promise<number>;
  concurrency: number;
  warmupS: number;
  measureS: number;
  onMark: (mark: 'measure-start' | 'measure-end') => void;
}

/** A hard cap on requests per run, whatever the target's speed. */
const MAX_REQUESTS = 5_000_000;

const now = () => process.hrtime.bigint();

export async function runClosedLoop(options: ClosedLoopOptions): Promise<LoadResult> {
  const start = now();
  const windowStart = start + BigInt(Math.round(options.warmupS * 1e9));
  const windowEnd = windowStart + BigInt(Math.round(options.measureS * 1e9));
  const service = latencyHistogram();
  const errorKinds: Record<string, number> = {};
  let ok = 0;
  let errors = 0;
  let sent = 0;
  let okAll = 0;
  let nextId = 1;
  let lastEnd = windowStart;

  const markTimer = setTimeout(() => options.onMark('measure-start'), options.warmupS * 1000);

  async function worker(): Promise<void> {
    while (nextId <= MAX_REQUESTS) {
      const sentAt = now();
      if (sentAt >= windowEnd) return;
      const id = nextId++;
      const measured = sentAt >= windowStart;
      if (measured) sent++;
      let status: number | undefined;
      let failure: unknown;
      try {
        status = await options.send(id);
      } catch (err) {
        failure = err;
      }
      const end = now();
      if (status === 200) okAll++;
      if (!measured) continue;
      if (end > lastEnd) lastEnd = end;
      if (status === 200) {
        ok++;
        recordNs(service, end - sentAt);
      } else {
        errors++;
        const kind = errorKind(status, failure);
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      }
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, worker));
  clearTimeout(markTimer);
  options.onMark('measure-end');
  const durationS = Number(lastEnd - windowStart) / 1e9;
  const summary = summarise(service);
  return {
    kind: 'closed',
    total: { sent: nextId - 1, ok: okAll },
    measured: { sent, ok, errors, errorKinds, durationS, achievedRps: ok / durationS },
    latency: summary,
    service: summary,
    sendLag: undefined,
  };
}
