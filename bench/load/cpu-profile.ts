/**
 * Summarises a V8 `.cpuprofile` (written by `node --cpu-prof`): self and inclusive time per function
 * and self time per package, over a time window, as shares of the busy (non-idle) main-thread time.
 *
 * Algorithm:
 *   1. Sample `i` happened at `startTime + Σ timeDeltas[0..i]` (µs on the monotonic clock, the same
 *      clock as `process.hrtime`) and weighs the time until the next sample.
 *   2. Samples outside the window are skipped; `(idle)` samples count only toward the idle share.
 *   3. Self time goes to the sampled node's function (name + script + line); inclusive time to every
 *      distinct function on its stack.
 *
 * Work on other threads (ECDSA verification in the libuv pool, GC helper threads) is not in a CPU
 * profile; it shows in the process's CPU seconds only.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Hotspot {
  function: string;
  location: string;
  self_ms: number;
  self_pct: number;
  total_ms: number;
  total_pct: number;
}

export interface ProfileSummary {
  window_ms: number;
  busy_ms: number;
  idle_pct: number;
  /** By self time, highest first; percentages are of busy time. */
  top_self: Hotspot[];
  /** By inclusive time: the Tessera proxy's own functions only. */
  top_proxy_inclusive: Hotspot[];
  by_package: { package: string; self_ms: number; self_pct: number }[];
}

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

function where(url: string): string {
  if (!url.startsWith('file://')) return url;
  return relative(repoRoot, fileURLToPath(url));
}

/** The package a script belongs to: `proxy/src`, an npm package, `node core`, or V8's own buckets. */
export function packageOf(url: string): string {
  if (url === '') return '(native: syscalls, GC, V8)';
  if (url.startsWith('node:')) return 'node core';
  const path = where(url);
  const nm = path.lastIndexOf('node_modules/');
  if (nm !== -1) {
    const parts = path.slice(nm + 'node_modules/'.length).split('/');
    return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  if (path.startsWith('api/')) return '@tessera/api';
  // Also a copy of the proxy elsewhere (BENCH_PROXY_MAIN).
  if (/(^|\/)proxy\/src\//.test(path)) return 'proxy/src';
  return path;
}

interface Tally {
  fn: string;
  location: string;
  pkg: string;
  self: number;
  total: number;
}

export async function summariseCpuProfile(
  file: string,
  window: { fromUs: number; toUs: number } | undefined,
  top = 10,
): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const tallies = new Map<string, Tally>();
  const tallyOf = (node: ProfileNode): Tally => {
    const { functionName, url, lineNumber } = node.callFrame;
    const key = `${functionName}\u0000${url}\u0000${lineNumber}`;
    let t = tallies.get(key);
    if (!t) {
      const location = url ? `${where(url)}:${lineNumber + 1}` : '';
      t = { fn: functionName || '(anonymous)', location, pkg: packageOf(url), self: 0, total: 0 };
      tallies.set(key, t);
    }
    return t;
  };

  let windowUs = 0;
  let idleUs = 0;
  let t = profile.startTime;
  const { samples, timeDeltas } = profile;
  for (let i = 0; i < samples.length; i++) {
    t += timeDeltas[i]!;
    const weight = i + 1 < samples.length ? timeDeltas[i + 1]! : profile.endTime - t;
    if (window && (t < window.fromUs || t > window.toUs)) continue;
    windowUs += weight;
    const leaf = byId.get(samples[i]!)!;
    if (leaf.callFrame.functionName === '(idle)') {
      idleUs += weight;
      continue;
    }
    tallyOf(leaf).self += weight;
    const seen = new Set<Tally>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const tally = tallyOf(byId.get(id)!);
      if (!seen.has(tally)) {
        seen.add(tally);
        tally.total += weight;
      }
    }
  }

  const busyUs = windowUs - idleUs;
  const pct = (us: number) => (busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0);
  const ms = (us: number) => Math.round(us / 100) / 10;
  const hotspot = (x: Tally): Hotspot => ({
    function: x.fn,
    location: x.location,
    self_ms: ms(x.self),
    self_pct: pct(x.self),
    total_ms: ms(x.total),
    total_pct: pct(x.total),
  });
  const all = [...tallies.values()].filter((x) => x.fn !== '(root)');
  const packages = new Map<string, number>();
  for (const x of all) packages.set(x.pkg, (packages.get(x.pkg) ?? 0) + x.self);
  return {
    window_ms: ms(windowUs),
    busy_ms: ms(busyUs),
    idle_pct: windowUs > 0 ? Math.round((idleUs / windowUs) * 1000) / 10 : 0,
    top_self: all
      .sort((a, b) => b.self - a.self)
      .slice(0, top)
      .map(hotspot),
    top_proxy_inclusive: all
      .filter((x) => x.pkg === 'proxy/src')
      .sort((a, b) => b.total - a.total)
      .slice(0, top)
      .map(hotspot),
    by_package: [...packages.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, us]) => ({ package: name, self_ms: ms(us), self_pct: pct(us) })),
  };
}

/** The hotspot tables, in Markdown. */
export function profileMarkdown(s: ProfileSummary): string {
  const row = (h: Hotspot, i: number) =>
    `| ${i + 1} | \`${h.function}\` | ${h.location ? `\`${h.location}\`` : ''} | ${h.self_pct} % | ${h.total_pct} % |`;
  return [
    `Main thread, measured window: ${s.window_ms} ms, of which ${s.idle_pct} % idle; shares are of the ${s.busy_ms} ms busy.`,
    '',
    '| # | Function (self time) | Where | Self | Inclusive |',
    '| --- | --- | --- | --- | --- |',
    ...s.top_self.map(row),
    '',
    '| # | Proxy function (inclusive time) | Where | Self | Inclusive |',
    '| --- | --- | --- | --- | --- |',
    ...s.top_proxy_inclusive.map(row),
    '',
    '| Package | Self |',
    '| --- | --- |',
    ...s.by_package.map((p) => `| ${p.package} | ${p.self_pct} % |`),
    '',
  ].join('\n');
}
