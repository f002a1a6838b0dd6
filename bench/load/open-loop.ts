/**
 * The open-loop load generator (the wrk2 method): request `i` is due at `start + i / rate` whether or
 * not earlier answers have arrived, and its latency runs from that intended time, so a stall of the
 * target shows in the percentiles instead of silently slowing the schedule (coordinated omission).
 *
 * Algorithm:
 *   1. A 1 ms timer wakes the scheduler, and so does every answer (the timer alone sends up to a
 *      millisecond late); it sends every request whose intended time has passed.
 *   2. Each answer records latency (intended → end) and service time (sent → end) if the request
 *      belongs to the measured window; warm-up requests are sent on the same schedule but not recorded.
 *   3. The run ends when the last answer is in, or `drainTimeoutS` after the last send (stragglers are
 *      counted as errors), so every run is bounded in count and time.
 *
 * @module
 */
import { latencyHistogram, recordNs, summarise } from './histogram.ts';
import type { LoadResult } from './protocol.ts';
import { errorKind } from './target-client.ts';

export interface OpenLoopOptions {
  send: (id: number) => Promise<number>;
  rate: number;
  warmupS: number;
  measureS: number;
  /** How long to wait for answers after the last scheduled send. */
  drainTimeoutS: number;
  onMark: (mark: 'measure-start' | 'measure-end') => void;
}

const now = () => process.hrtime.bigint();

export function runOpenLoop(options: OpenLoopOptions): Promise<LoadResult> {
  const { rate } = options;
  if (!(rate > 0 && rate <= 100_000)) throw new TypeError(`rate must be in 1..100000, got ${rate}`);
  const intervalNs = 1e9 / rate;
  const warmupCount = Math.round(rate * options.warmupS);
  const total = warmupCount + Math.round(rate * options.measureS);
  const start = now() + 5_000_000n;
  const due = (i: number) => start + BigInt(Math.round(i * intervalNs));
  const windowStart = due(warmupCount);
  const windowEnd = due(total);

  const latency = latencyHistogram();
  const service = latencyHistogram();
  const lag = latencyHistogram();
  const errorKinds: Record<string, number> = {};
  let ok = 0;
  let okAll = 0;
  let errors = 0;
  let next = 0;
  let outstanding = 0;
  let lastEnd = windowStart;
  let finished = false;

  return new Promise((resolve) => {
    let drainTimer: NodeJS.Timeout | undefined;

    function finish(): void {
      if (finished) return;
      finished = true;
      clearTimeout(drainTimer);
      if (outstanding > 0) {
        errors += outstanding;
        errorKinds.drain_timeout = outstanding;
      }
      options.onMark('measure-end');
      const durationS = Number((lastEnd > windowEnd ? lastEnd : windowEnd) - windowStart) / 1e9;
      resolve({
        kind: 'open',
        total: { sent: next, ok: okAll },
        measured: {
          sent: total - warmupCount,
          ok,
          errors,
          errorKinds,
          durationS,
          achievedRps: ok / durationS,
        },
        latency: summarise(latency),
        service: summarise(service),
        sendLag: summarise(lag),
      });
    }

    function answered(i: number, intended: bigint, sentAt: bigint, status: number | undefined, err: unknown) {
      outstanding--;
      if (finished) return;
      if (status === 200) okAll++;
      if (i >= warmupCount) {
        const end = now();
        if (end > lastEnd) lastEnd = end;
        if (status === 200) {
          ok++;
          recordNs(latency, end - intended);
          recordNs(service, end - sentAt);
        } else {
          errors++;
          const kind = errorKind(status, err);
          errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
        }
      }
      if (next >= total) {
        if (outstanding === 0) finish();
      } else sendDue();
    }

    function fire(i: number, intended: bigint): void {
      const sentAt = now();
      if (i === warmupCount) options.onMark('measure-start');
      if (i >= warmupCount) recordNs(lag, sentAt - intended);
      outstanding++;
      options.send(i + 1).then(
        (status) => answered(i, intended, sentAt, status, undefined),
        (err: unknown) => answered(i, intended, sentAt, undefined, err),
      );
    }

    /** Sends every request whose time has come. */
    function sendDue(): void {
      const t = now();
      while (next < total) {
        const intended = due(next);
        if (intended > t) break;
        fire(next, intended);
        next++;
      }
    }

    function tick(): void {
      sendDue();
      if (next < total) setTimeout(tick, 1);
      else if (outstanding === 0) finish();
      else drainTimer = setTimeout(finish, options.drainTimeoutS * 1000);
    }
    setTimeout(tick, 5);
  });
}
