/**
 * The messages between the benchmark driver and its load-generator child process (over the IPC
 * channel of `fork`), and the shapes of what a run measures.
 *
 * @module
 */

/** Percentiles of one HDR histogram, in milliseconds. */
export interface LatencySummary {
  count: number;
  min_ms: number;
  mean_ms: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
}

/** Where and what the load generator sends: one JSON-RPC `tools/call` POST per request. */
export interface Target {
  url: string;
  /** Bearer token, when the target is the proxy. */
  token: string | undefined;
  /** Undici pool size toward the target. */
  connections: number;
}

/** Requests on a fixed schedule, whatever the answers do (no coordinated omission). */
export interface OpenLoopCommand {
  kind: 'open';
  target: Target;
  rate: number;
  warmupS: number;
  measureS: number;
}

/** As fast as `concurrency` outstanding requests allow: the saturation throughput. */
export interface ClosedLoopCommand {
  kind: 'closed';
  target: Target;
  concurrency: number;
  warmupS: number;
  measureS: number;
}

export type LoadCommand = OpenLoopCommand | ClosedLoopCommand;

export interface LoadResult {
  kind: LoadCommand['kind'];
  /** Every request of the run, warm-up included: each one answered through the proxy is audited. */
  total: { sent: number; ok: number };
  /** Requests sent and answered in the measured window (warm-up excluded). */
  measured: {
    sent: number;
    ok: number;
    errors: number;
    /** Non-200 statuses and transport errors, by name. */
    errorKinds: Record<string, number>;
    durationS: number;
    achievedRps: number;
  };
  /**
   * Open loop: from the request's intended send time to the end of its response (includes any wait
   * behind the generator or the target). Closed loop: from the actual send.
   */
  latency: LatencySummary;
  /** From the actual send to the end of the response. */
  service: LatencySummary;
  /** Open loop only: how late the generator sent each request against its schedule. */
  sendLag: LatencySummary | undefined;
}

/** Child → driver. `mark` is sent when the measured window starts and when its last answer is in. */
export type LoadMessage =
  | { type: 'ready' }
  | { type: 'mark'; mark: 'measure-start' | 'measure-end' }
  | { type: 'result'; result: LoadResult }
  | { type: 'error'; message: string };
