/**
 * Turns the runs into the results file's `summary`, the targets' verdicts, and the Markdown table for
 * the README.
 *
 * @module
 */

import type { MemorySample, SchedSample } from './proc-stats.ts';
import type { LatencySummary, LoadResult } from './protocol.ts';

/**
 * CPU seconds of each process. `proxy` is the process between the load generator and the upstream
 * (in a reference run, the reference forwarder), and `fixture` the upstream (in the SDK server's runs,
 * the SDK server); `control_plane` is the control plane's own process and `postgres` its embedded
 * PostgreSQL (every process under the control plane), which together store the audit events.
 */
export interface CpuByProcess {
  proxy: number;
  fixture: number;
  load_generator: number;
  control_plane: number;
  postgres: number;
}

/** One measured run against one target, with what the processes spent during its measured window. */
export interface RunRecord {
  /** `reference`: through the reference forwarder instead of the proxy. */
  target: 'direct' | 'proxied' | 'reference';
  result: LoadResult;
  /** CPU seconds each process used in the measured window. */
  cpu_s: CpuByProcess;
  /** The same per 1000 answered requests of the window. */
  cpu_s_per_1000_requests: CpuByProcess;
  /** The memory of the process in the middle (the proxy, or the forwarder) when the window ended. */
  proxy_memory: MemorySample;
  /**
   * The same process's CPU split into user and system seconds, and its event loop's context switches
   * (voluntary: it slept; involuntary: it was preempted), per 1000 answered requests of the window.
   */
  proxy_sched_per_1000_requests: SchedSample;
}

export interface Added {
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
}

export interface Pair {
  /** Requests per second, or `saturation` for the closed-loop pair. */
  rate: number | 'saturation';
  /** 1, 2, …: which round, when this load ran several (the summary rate does, see `summarise`). */
  round?: number;
  /** The control plane and its PostgreSQL were stopped during the proxied run (an experiment). */
  control_plane_paused?: true;
  direct: RunRecord;
  proxied: RunRecord;
  /** Proxied minus direct percentiles of the latency (open loop: from the intended send time). */
  added: Added;
  /** The same from the service time (actual send to answer), without the generator's own lag. */
  added_service: Added;
  /**
   * At the summary rate and at saturation: the same load through the reference forwarder, right
   * after the proxied run, against the same upstream; `added` compares it with this pair's direct run.
   */
  reference?: ReferenceRun;
}

/** The reference forwarder's run at one load, compared with the direct run of its pair. */
export interface ReferenceRun {
  run: RunRecord;
  added: Added;
  added_service: Added;
}

/**
 * The figures at the summary rate are medians over its rounds (pairs of runs repeated at that rate),
 * so that one run disturbed by the host does not decide them; `*_by_round` keeps every round's value.
 */
export interface Summary {
  rate_rps: number;
  /** How many rounds ran at `rate_rps`. */
  rounds: number;
  added_p50_ms: number;
  added_p90_ms: number;
  added_p99_ms: number;
  cpu_s_per_1000_requests: number;
  /** For scale: what the do-nothing fixture server spends per 1000 requests at the same rate. */
  fixture_cpu_s_per_1000_requests: number;
  rss_anon_mb: number;
  rss_total_mb: number;
  rss_peak_mb: number;
  direct_saturated_rps: number;
  proxied_saturated_rps: number;
  throughput_ratio: number;
  /** Storing the proxied requests' audit events, per 1000 requests: the control plane's process. */
  control_plane_cpu_s_per_1000_requests: number;
  /** The same for its PostgreSQL. */
  postgres_cpu_s_per_1000_requests: number;
  /**
   * At saturation, every process together (load generator, fixture, proxy or forwarder, control
   * plane, PostgreSQL) per 1000 requests. When the machine's cores are what limits, throughput goes
   * as the inverse of these, so direct / proxied bounds the throughput ratio on this machine.
   */
  saturation_total_cpu_s_per_1000_requests: { direct: number; proxied: number; reference: number };
  /**
   * The proxy's and the forwarder's own CPU per 1000 requests at saturation, where their event loops
   * never wait for work, beside `cpu_s_per_1000_requests` at the summary rate, where they sleep
   * between requests.
   */
  saturation_proxy_cpu_s_per_1000_requests: { proxied: number; reference: number };
  /**
   * At the summary rate, per 1000 requests (medians of the rounds): the proxy's CPU split into user and
   * system seconds, and how often its event loop slept (voluntary) or was preempted (involuntary).
   */
  proxy_sched_per_1000_requests: SchedSample;
  /** At saturation, the CPU seconds every process together used per second: how many cores were busy. */
  saturation_cores_busy: { direct: number; proxied: number; reference: number };
  /**
   * Context measured in the same run (none of it is a target). The reference forwarder (no
   * authentication, policy or audit) against the same fixture, at the summary rate: what any Node
   * proxy pays here for the two loopback hops.
   */
  reference_forwarder_added_p50_ms: number;
  reference_forwarder_added_p99_ms: number;
  reference_forwarder_cpu_s_per_1000_requests: number;
  reference_forwarder_rss_anon_mb: number;
  reference_forwarder_rss_total_mb: number;
  /** The forwarder's saturated req/s over the same direct run's. */
  reference_forwarder_saturated_rps: number;
  reference_forwarder_throughput_ratio: number;
  /**
   * The proxy in front of a real MCP server (official TypeScript SDK) at `sdk_server_rate_rps`, a rate
   * of its own because that server alone needs several times the fixture's CPU per request.
   */
  sdk_server_rate_rps: number;
  sdk_server_added_p50_ms: number;
  sdk_server_added_p99_ms: number;
  /** That proxy's CPU per 1000 requests. */
  sdk_server_proxy_cpu_s_per_1000_requests: number;
  /** The SDK server's own CPU per 1000 requests, for scale against the proxy's. */
  sdk_server_cpu_s_per_1000_requests: number;
  sdk_server_direct_saturated_rps: number;
  sdk_server_proxied_saturated_rps: number;
  sdk_server_throughput_ratio: number;
  added_p50_ms_by_round: number[];
  added_p99_ms_by_round: number[];
  cpu_s_per_1000_requests_by_round: number[];
  rss_anon_mb_by_round: number[];
}

export interface Target {
  name: string;
  measured: number;
  limit: number;
  unit: string;
  /** `max`: measured ≤ limit passes; `min`: measured ≥ limit passes. */
  kind: 'max' | 'min';
  pass: boolean;
  /**
   * Set when the figure cannot be judged: an added latency below zero means the direct run's tail
   * (scheduler noise on a shared machine) outweighed the proxy's, not that the proxy took no time.
   */
  inconclusive?: string;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export function added(direct: LatencySummary, proxied: LatencySummary): Added {
  return {
    p50_ms: round(proxied.p50_ms - direct.p50_ms),
    p90_ms: round(proxied.p90_ms - direct.p90_ms),
    p99_ms: round(proxied.p99_ms - direct.p99_ms),
  };
}

function atRate(pairs: Pair[], rate: number, what: string): { at: Pair[]; sat: Pair } {
  const at = pairs.filter((p) => p.rate === rate);
  const sat = pairs.find((p) => p.rate === 'saturation');
  if (at.length === 0 || !sat)
    throw new Error(`the ${what} need ${rate} req/s and saturation for the summary`);
  return { at, sat };
}

/** The middle value (the mean of the two middle ones for an even count). */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) throw new Error('the median of nothing');
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const rps = (r: RunRecord) => r.result.measured.achievedRps;
const totalCpu = (c: CpuByProcess) => c.proxy + c.fixture + c.load_generator + c.control_plane + c.postgres;
const coresBusy = (r: RunRecord) => Math.round((totalCpu(r.cpu_s) / r.result.measured.durationS) * 100) / 100;

/**
 * The summary at `rate`: the proxy's figures in front of the fixture (`pairs`), with the reference
 * forwarder's (in the same pairs) and the proxy's in front of the SDK server (`sdkPairs`, open loop at
 * `sdkRate`) as context.
 */
export function summarise(pairs: Pair[], rate: number, sdkPairs: Pair[], sdkRate: number): Summary {
  const { at, sat } = atRate(pairs, rate, 'runs');
  const { at: sdkAtAll, sat: sdkSat } = atRate(sdkPairs, sdkRate, 'SDK server runs');
  const sdkAt = sdkAtAll[0]!;
  const references = at.flatMap((p) => (p.reference ? [p.reference] : []));
  if (references.length !== at.length || !sat.reference) {
    throw new Error(`the reference forwarder needs runs at ${rate} req/s and at saturation`);
  }
  /** One figure of every round, and their median. */
  const byRound = (pick: (p: Pair) => number) => at.map(pick);
  const mid = (pick: (p: Pair) => number) => round(median(byRound(pick)));
  const ref = (pick: (r: NonNullable<Pair['reference']>) => number) => round(median(references.map(pick)));
  const direct = rps(sat.direct);
  const proxied = rps(sat.proxied);
  return {
    rate_rps: rate,
    rounds: at.length,
    added_p50_ms: mid((p) => p.added.p50_ms),
    added_p90_ms: mid((p) => p.added.p90_ms),
    added_p99_ms: mid((p) => p.added.p99_ms),
    cpu_s_per_1000_requests: mid((p) => p.proxied.cpu_s_per_1000_requests.proxy),
    fixture_cpu_s_per_1000_requests: mid((p) => p.proxied.cpu_s_per_1000_requests.fixture),
    rss_anon_mb: mid((p) => p.proxied.proxy_memory.rss_anon_mb),
    rss_total_mb: mid((p) => p.proxied.proxy_memory.rss_total_mb),
    rss_peak_mb: mid((p) => p.proxied.proxy_memory.rss_peak_mb),
    direct_saturated_rps: Math.round(direct),
    proxied_saturated_rps: Math.round(proxied),
    throughput_ratio: round(proxied / direct),
    control_plane_cpu_s_per_1000_requests: mid((p) => p.proxied.cpu_s_per_1000_requests.control_plane),
    postgres_cpu_s_per_1000_requests: mid((p) => p.proxied.cpu_s_per_1000_requests.postgres),
    saturation_total_cpu_s_per_1000_requests: {
      direct: round(totalCpu(sat.direct.cpu_s_per_1000_requests)),
      proxied: round(totalCpu(sat.proxied.cpu_s_per_1000_requests)),
      reference: round(totalCpu(sat.reference.run.cpu_s_per_1000_requests)),
    },
    saturation_proxy_cpu_s_per_1000_requests: {
      proxied: round(sat.proxied.cpu_s_per_1000_requests.proxy),
      reference: round(sat.reference.run.cpu_s_per_1000_requests.proxy),
    },
    proxy_sched_per_1000_requests: {
      user_s: mid((p) => p.proxied.proxy_sched_per_1000_requests.user_s),
      system_s: mid((p) => p.proxied.proxy_sched_per_1000_requests.system_s),
      voluntary_switches: mid((p) => p.proxied.proxy_sched_per_1000_requests.voluntary_switches),
      involuntary_switches: mid((p) => p.proxied.proxy_sched_per_1000_requests.involuntary_switches),
    },
    saturation_cores_busy: {
      direct: coresBusy(sat.direct),
      proxied: coresBusy(sat.proxied),
      reference: coresBusy(sat.reference.run),
    },
    reference_forwarder_added_p50_ms: ref((r) => r.added.p50_ms),
    reference_forwarder_added_p99_ms: ref((r) => r.added.p99_ms),
    reference_forwarder_cpu_s_per_1000_requests: ref((r) => r.run.cpu_s_per_1000_requests.proxy),
    reference_forwarder_rss_anon_mb: ref((r) => r.run.proxy_memory.rss_anon_mb),
    reference_forwarder_rss_total_mb: ref((r) => r.run.proxy_memory.rss_total_mb),
    reference_forwarder_saturated_rps: Math.round(rps(sat.reference.run)),
    reference_forwarder_throughput_ratio: round(rps(sat.reference.run) / direct),
    sdk_server_rate_rps: sdkRate,
    sdk_server_added_p50_ms: sdkAt.added.p50_ms,
    sdk_server_added_p99_ms: sdkAt.added.p99_ms,
    sdk_server_proxy_cpu_s_per_1000_requests: round(sdkAt.proxied.cpu_s_per_1000_requests.proxy),
    sdk_server_cpu_s_per_1000_requests: round(sdkAt.proxied.cpu_s_per_1000_requests.fixture),
    sdk_server_direct_saturated_rps: Math.round(rps(sdkSat.direct)),
    sdk_server_proxied_saturated_rps: Math.round(rps(sdkSat.proxied)),
    sdk_server_throughput_ratio: round(rps(sdkSat.proxied) / rps(sdkSat.direct)),
    added_p50_ms_by_round: byRound((p) => p.added.p50_ms),
    added_p99_ms_by_round: byRound((p) => p.added.p99_ms),
    cpu_s_per_1000_requests_by_round: byRound((p) => round(p.proxied.cpu_s_per_1000_requests.proxy)),
    rss_anon_mb_by_round: byRound((p) => p.proxied.proxy_memory.rss_anon_mb),
  };
}

export function targets(s: Summary): Target[] {
  const t = (name: string, measured: number, limit: number, unit: string, kind: 'max' | 'min'): Target => ({
    name,
    measured,
    limit,
    unit,
    kind,
    pass: kind === 'max' ? measured <= limit : measured >= limit,
  });
  const addedLatency = (name: string, measured: number, limit: number): Target =>
    measured < 0
      ? {
          ...t(name, measured, limit, 'ms', 'max'),
          pass: false,
          inconclusive: 'the direct run was slower at this percentile; rerun on a quieter machine',
        }
      : t(name, measured, limit, 'ms', 'max');
  return [
    addedLatency(`added p50 at ${s.rate_rps} req/s`, s.added_p50_ms, 0.15),
    addedLatency(`added p99 at ${s.rate_rps} req/s`, s.added_p99_ms, 0.5),
    t(`proxy CPU per 1000 requests at ${s.rate_rps} req/s`, s.cpu_s_per_1000_requests, 0.15, 's', 'max'),
    t(`proxy private memory (RssAnon) at ${s.rate_rps} req/s`, s.rss_anon_mb, 30, 'MB', 'max'),
    t('saturated throughput, proxied / direct', s.throughput_ratio, 0.7, '', 'min'),
  ];
}

const f3 = (x: number) => x.toFixed(3);
const triple = (l: { p50_ms: number; p90_ms: number; p99_ms: number }) =>
  `${f3(l.p50_ms)} / ${f3(l.p90_ms)} / ${f3(l.p99_ms)}`;

export interface ReportContext {
  date: string;
  machine: string;
  method: string;
}

const pct = (ratio: number) => `${(ratio * 100).toFixed(0)} %`;
const loadLabel = (rate: Pair['rate']) => (rate === 'saturation' ? 'saturation (closed loop)' : String(rate));
const pairLabel = (p: Pair) =>
  (p.round ? `${loadLabel(p.rate)}, round ${p.round}` : loadLabel(p.rate)) +
  (p.control_plane_paused ? ', control plane paused' : '');

/** One table row: `through` is the proxied (or forwarded) run at the load of `direct`. */
function row(label: string, direct: RunRecord, through: RunRecord, delta: Added): string {
  const achieved = `${Math.round(rps(direct))} / ${Math.round(rps(through))}`;
  const mem = through.proxy_memory;
  return `| ${label} | ${achieved} | ${triple(direct.result.latency)} | ${triple(through.result.latency)} | ${triple(delta)} | ${f3(through.cpu_s_per_1000_requests.proxy)} | ${mem.rss_anon_mb.toFixed(1)} | ${mem.rss_total_mb.toFixed(1)} |`;
}

/**
 * The context rows: the reference forwarder at the loads it ran at (against the same fixture and the
 * same direct runs as the proxy), then the proxy in front of the SDK server.
 */
function contextRows(pairs: Pair[], sdkPairs: Pair[]): string[] {
  const reference = pairs.flatMap((p) =>
    p.reference
      ? [row(`reference forwarder → fixture, ${pairLabel(p)}`, p.direct, p.reference.run, p.reference.added)]
      : [],
  );
  const sdk = sdkPairs.map((p) =>
    row(`proxy → SDK server, ${loadLabel(p.rate)}`, p.direct, p.proxied, p.added),
  );
  return [...reference, ...sdk];
}

/** The context in one paragraph: the proxy's figures next to the forwarder's, and the SDK server's. */
function contextSentence(s: Summary): string {
  const medians = s.rounds > 1 ? ` (medians of ${s.rounds} rounds)` : '';
  const forwarder =
    `At ${s.rate_rps} req/s${medians} the reference forwarder adds ${f3(s.reference_forwarder_added_p50_ms)} ms at p50 ` +
    `and spends ${f3(s.reference_forwarder_cpu_s_per_1000_requests)} CPU-s per 1000 requests ` +
    `(the proxy: ${f3(s.added_p50_ms)} ms, ${f3(s.cpu_s_per_1000_requests)} s); it saturates at ` +
    `${s.reference_forwarder_saturated_rps} req/s, ${pct(s.reference_forwarder_throughput_ratio)} of direct ` +
    `(the proxy: ${pct(s.throughput_ratio)}).`;
  const sdk =
    `At ${s.sdk_server_rate_rps} req/s the SDK server itself spends ${f3(s.sdk_server_cpu_s_per_1000_requests)} CPU-s per 1000 requests ` +
    `(the fixture at ${s.rate_rps} req/s: ${f3(s.fixture_cpu_s_per_1000_requests)} s); in front of it the proxy adds ` +
    `${f3(s.sdk_server_added_p50_ms)} ms at p50 and reaches ` +
    `${pct(s.sdk_server_throughput_ratio)} of direct at saturation ` +
    `(${s.sdk_server_proxied_saturated_rps} of ${s.sdk_server_direct_saturated_rps} req/s).`;
  return `${forwarder} ${sdk}`;
}

/**
 * Where the CPU went: the proxy's own at the summary rate and at saturation, the audit pipeline at the
 * summary rate, and every process at saturation.
 */
function cpuSentence(s: Summary): string {
  const t = s.saturation_total_cpu_s_per_1000_requests;
  const busy = s.saturation_cores_busy;
  const k = s.proxy_sched_per_1000_requests;
  const warm = s.saturation_proxy_cpu_s_per_1000_requests;
  return (
    `At ${s.rate_rps} req/s the proxy's ${f3(s.cpu_s_per_1000_requests)} CPU-s per 1000 requests were ` +
    `${f3(k.user_s)} s user and ${f3(k.system_s)} s system time (medians of the rounds), and per 1000 requests its ` +
    `event loop slept ${Math.round(k.voluntary_switches)} times and was preempted ${Math.round(k.involuntary_switches)} times. ` +
    `At saturation, where no request finds it asleep, it spent ${f3(warm.proxied)} CPU-s per 1000 requests ` +
    `(the forwarder ${f3(warm.reference)}). ` +
    `Storing the audit events of 1000 proxied requests at ${s.rate_rps} req/s cost the control plane ` +
    `${f3(s.control_plane_cpu_s_per_1000_requests)} CPU-s and its PostgreSQL ${f3(s.postgres_cpu_s_per_1000_requests)} s, ` +
    `on the same machine. At saturation every process together spent ${f3(t.direct)} CPU-s per 1000 requests direct, ` +
    `${f3(t.proxied)} through the proxy and ${f3(t.reference)} through the forwarder, with ${busy.direct}, ` +
    `${busy.proxied} and ${busy.reference} cores busy. Where the cores are the limit, throughput goes as the ` +
    `inverse of that cost: here the proxy could reach at most about ${pct(t.direct / t.proxied)} of direct, ` +
    `and the forwarder ${pct(t.direct / t.reference)}.`
  );
}

/**
 * The README's table: one row per rate and one for saturation, then the targets, then the context
 * measured in the same run (the reference forwarder and the SDK server), which is not a target.
 */
export function markdown(
  pairs: Pair[],
  sdkPairs: Pair[],
  summary: Summary,
  verdicts: Target[],
  ctx: ReportContext,
): string {
  const rows = pairs.map((p) => row(pairLabel(p), p.direct, p.proxied, p.added));
  const fmt = (t: Target) => (t.unit === '' ? pct(t.measured) : `${t.measured} ${t.unit}`);
  const limit = (t: Target) => (t.unit === '' ? pct(t.limit) : `${t.limit} ${t.unit}`);
  const targetRows = verdicts.map(
    (t) =>
      `| ${t.name} | ${t.kind === 'max' ? '≤' : '≥'} ${limit(t)} | ${fmt(t)} | ${t.inconclusive ? `inconclusive: ${t.inconclusive}` : t.pass ? 'pass' : '**FAIL**'} |`,
  );
  const s = summary;
  return [
    `${ctx.method} Measured ${ctx.date} on ${ctx.machine}.`,
    '',
    '| Load (req/s) | Achieved req/s, direct / proxied | Direct p50 / p90 / p99 (ms) | Proxied p50 / p90 / p99 (ms) | Added p50 / p90 / p99 (ms) | Proxy CPU s / 1000 req | Proxy RssAnon (MB) | Proxy RSS (MB) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `Saturation: ${s.direct_saturated_rps} req/s direct, ${s.proxied_saturated_rps} req/s through the proxy (${pct(s.throughput_ratio)}).` +
      (s.rounds > 1
        ? ` At ${s.rate_rps} req/s the targets below are judged on the median of the ${s.rounds} rounds (added p99 by round: ${s.added_p99_ms_by_round.map(f3).join(', ')} ms).`
        : ''),
    '',
    '| Target | Limit | Measured | Result |',
    '| --- | --- | --- | --- |',
    ...targetRows,
    '',
    "Context from the same run (not targets). The reference forwarder is the smallest correct Node forwarder (`node:http` in, keep-alive `node:http` out; no authentication, policy or audit) in front of the same fixture: the floor any Node proxy pays on this machine for the two loopback hops. The SDK server is an MCP server built with the official TypeScript SDK (stateless Streamable HTTP, JSON answers), registered as a second server with its own proxy. In these rows, *through* is the forwarder or that proxy, and CPU and memory are the process's.",
    '',
    '| What, load (req/s) | Achieved req/s, direct / through | Direct p50 / p90 / p99 (ms) | Through p50 / p90 / p99 (ms) | Added p50 / p90 / p99 (ms) | CPU s / 1000 req | RssAnon (MB) | RSS (MB) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...contextRows(pairs, sdkPairs),
    '',
    contextSentence(s),
    '',
    cpuSentence(s),
    '',
  ].join('\n');
}
