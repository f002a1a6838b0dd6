/**
 * Turns the runs into the results file's `summary`, the targets' verdicts, and the Markdown table for
 * the README.
 *
 * @module
 */

import type { MemorySample } from './proc-stats.ts';
import type { LatencySummary, LoadResult } from './protocol.ts';

/** CPU seconds of each process (the control plane's own process; its PostgreSQL is not counted). */
export interface CpuByProcess {
  proxy: number;
  fixture: number;
  load_generator: number;
  control_plane: number;
}

/** One measured run against one target, with what the processes spent during its measured window. */
export interface RunRecord {
  target: 'direct' | 'proxied';
  result: LoadResult;
  /** CPU seconds each process used in the measured window. */
  cpu_s: CpuByProcess;
  /** The same per 1000 answered requests of the window. */
  cpu_s_per_1000_requests: CpuByProcess;
  /** The proxy's memory when the window ended. */
  proxy_memory: MemorySample;
}

export interface Added {
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
}

export interface Pair {
  /** Requests per second, or `saturation` for the closed-loop pair. */
  rate: number | 'saturation';
  direct: RunRecord;
  proxied: RunRecord;
  /** Proxied minus direct percentiles of the latency (open loop: from the intended send time). */
  added: Added;
  /** The same from the service time (actual send to answer), without the generator's own lag. */
  added_service: Added;
}

export interface Summary {
  rate_rps: number;
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
}

export interface Target {
  name: string;
  measured: number;
  limit: number;
  unit: string;
  /** `max`: measured ≤ limit passes; `min`: measured ≥ limit passes. */
  kind: 'max' | 'min';
  pass: boolean;
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export function added(direct: LatencySummary, proxied: LatencySummary): Added {
  return {
    p50_ms: round(proxied.p50_ms - direct.p50_ms),
    p90_ms: round(proxied.p90_ms - direct.p90_ms),
    p99_ms: round(proxied.p99_ms - direct.p99_ms),
  };
}

export function summarise(pairs: Pair[], rate: number): Summary {
  const at = pairs.find((p) => p.rate === rate);
  const sat = pairs.find((p) => p.rate === 'saturation');
  if (!at || !sat) throw new Error(`the runs need ${rate} req/s and saturation for the summary`);
  const direct = sat.direct.result.measured.achievedRps;
  const proxied = sat.proxied.result.measured.achievedRps;
  return {
    rate_rps: rate,
    added_p50_ms: at.added.p50_ms,
    added_p90_ms: at.added.p90_ms,
    added_p99_ms: at.added.p99_ms,
    cpu_s_per_1000_requests: round(at.proxied.cpu_s_per_1000_requests.proxy),
    fixture_cpu_s_per_1000_requests: round(at.proxied.cpu_s_per_1000_requests.fixture),
    rss_anon_mb: at.proxied.proxy_memory.rss_anon_mb,
    rss_total_mb: at.proxied.proxy_memory.rss_total_mb,
    rss_peak_mb: at.proxied.proxy_memory.rss_peak_mb,
    direct_saturated_rps: Math.round(direct),
    proxied_saturated_rps: Math.round(proxied),
    throughput_ratio: round(proxied / direct),
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
  return [
    t(`added p50 at ${s.rate_rps} req/s`, s.added_p50_ms, 0.15, 'ms', 'max'),
    t(`added p99 at ${s.rate_rps} req/s`, s.added_p99_ms, 0.5, 'ms', 'max'),
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

/** The README's table: one row per rate and one for saturation, then the targets. */
export function markdown(pairs: Pair[], summary: Summary, verdicts: Target[], ctx: ReportContext): string {
  const rows = pairs.map((p) => {
    const label = p.rate === 'saturation' ? 'saturation (closed loop)' : String(p.rate);
    const achieved = `${Math.round(p.direct.result.measured.achievedRps)} / ${Math.round(p.proxied.result.measured.achievedRps)}`;
    const mem = p.proxied.proxy_memory;
    return `| ${label} | ${achieved} | ${triple(p.direct.result.latency)} | ${triple(p.proxied.result.latency)} | ${triple(p.added)} | ${f3(p.proxied.cpu_s_per_1000_requests.proxy)} | ${mem.rss_anon_mb.toFixed(1)} | ${mem.rss_total_mb.toFixed(1)} |`;
  });
  const fmt = (t: Target) =>
    t.unit === '' ? `${(t.measured * 100).toFixed(0)} %` : `${t.measured} ${t.unit}`;
  const limit = (t: Target) => (t.unit === '' ? `${(t.limit * 100).toFixed(0)} %` : `${t.limit} ${t.unit}`);
  const targetRows = verdicts.map(
    (t) =>
      `| ${t.name} | ${t.kind === 'max' ? '≤' : '≥'} ${limit(t)} | ${fmt(t)} | ${t.pass ? 'pass' : '**FAIL**'} |`,
  );
  return [
    `${ctx.method} Measured ${ctx.date} on ${ctx.machine}.`,
    '',
    '| Load (req/s) | Achieved req/s, direct / proxied | Direct p50 / p90 / p99 (ms) | Proxied p50 / p90 / p99 (ms) | Added p50 / p90 / p99 (ms) | Proxy CPU s / 1000 req | Proxy RssAnon (MB) | Proxy RSS (MB) |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `Saturation: ${summary.direct_saturated_rps} req/s direct, ${summary.proxied_saturated_rps} req/s through the proxy (${(summary.throughput_ratio * 100).toFixed(0)} %).`,
    '',
    '| Target | Limit | Measured | Result |',
    '| --- | --- | --- | --- |',
    ...targetRows,
    '',
  ].join('\n');
}
