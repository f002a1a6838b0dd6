/**
 * A diagnostic preload: what V8's garbage collector did in a process, window by window. Load it into
 * the proxy (or the reference forwarder) of a benchmark run:
 *
 *   BENCH_PROXY_NODE_ARGS="--max-semi-space-size=1 --import=$PWD/bench/load/gc-probe.ts" \
 *   BENCH_PROXY_ENV="MALLOC_MMAP_THRESHOLD_=8192 GC_PROBE_OUT=/tmp/gc.jsonl" npm run bench:proxy
 *
 * Every `GC_PROBE_WINDOW_MS` (default 10,000) it appends one JSON line to `GC_PROBE_OUT`: the pid,
 * the window's end in seconds since the process started, and for the window the young-generation
 * collections and their pause, the full collections and theirs, the bytes allocated in the young
 * generation, the bytes promoted to the old one, and the bytes still alive in the young generation
 * after a collection (its survivors, on average). Windows without a collection are skipped.
 *
 * The probe costs memory of its own (several MB of private memory), so the benchmark's memory
 * figures of a probed run do not compare with an unprobed one; the counts and bytes do.
 *
 * @module
 */
import { appendFileSync } from 'node:fs';
import { GCProfiler } from 'node:v8';

/** One window of `GC_PROBE_OUT`. */
export interface GcWindow {
  pid: number;
  at_s: number;
  young_gcs: number;
  young_pause_ms: number;
  full_gcs: number;
  full_pause_ms: number;
  allocated_young_mb: number;
  promoted_mb: number;
  young_survivors_kb: number;
}

/** A heap space as `v8.GCProfiler#stop()` reports it (camel-cased, unlike `v8.getHeapSpaceStatistics()`). */
interface SpaceSample {
  spaceName: string;
  spaceUsedSize: number;
}

/** What `v8.GCProfiler#stop()` reports per collection (the fields this probe reads). */
export interface GcRecord {
  gcType: string;
  /** The pause, in microseconds. */
  cost: number;
  beforeGC: { heapSpaceStatistics: SpaceSample[] };
  afterGC: { heapSpaceStatistics: SpaceSample[] };
}

const YOUNG = new Set(['Scavenge', 'MinorMarkSweep']);

function used(spaces: SpaceSample[], ...names: string[]): number {
  let sum = 0;
  for (const s of spaces) if (names.includes(s.spaceName)) sum += s.spaceUsedSize;
  return sum;
}

/**
 * Sums one window's collections. Young allocation is what the young generation held before each
 * collection beyond what it kept after the one before, so the first collection of a window counts
 * only from the second on: the figure slightly undercounts, never overcounts.
 */
export function summariseWindow(records: GcRecord[], pid: number, atS: number): GcWindow {
  const young = (side: GcRecord['beforeGC']) =>
    used(side.heapSpaceStatistics, 'new_space', 'new_large_object_space');
  const old = (side: GcRecord['beforeGC']) =>
    used(side.heapSpaceStatistics, 'old_space', 'large_object_space');
  let youngGcs = 0;
  let youngPauseUs = 0;
  let fullGcs = 0;
  let fullPauseUs = 0;
  let allocated = 0;
  let promoted = 0;
  let survivors = 0;
  let keptBefore: number | undefined;
  for (const r of records) {
    if (keptBefore !== undefined) allocated += Math.max(0, young(r.beforeGC) - keptBefore);
    keptBefore = young(r.afterGC);
    if (YOUNG.has(r.gcType)) {
      youngGcs++;
      youngPauseUs += r.cost;
      promoted += Math.max(0, old(r.afterGC) - old(r.beforeGC));
      survivors += young(r.afterGC);
    } else {
      fullGcs++;
      fullPauseUs += r.cost;
    }
  }
  const mb = (bytes: number) => Math.round((bytes / 1048576) * 100) / 100;
  return {
    pid,
    at_s: atS,
    young_gcs: youngGcs,
    young_pause_ms: Math.round(youngPauseUs) / 1000,
    full_gcs: fullGcs,
    full_pause_ms: Math.round(fullPauseUs) / 1000,
    allocated_young_mb: mb(allocated),
    promoted_mb: mb(promoted),
    young_survivors_kb: youngGcs ? Math.round(survivors / youngGcs / 1024) : 0,
  };
}

/** Reads the probe's settings; throws with the variable's name when one is missing or malformed. */
export function probeSettings(env: NodeJS.ProcessEnv): { out: string; windowMs: number } {
  const out = env.GC_PROBE_OUT;
  if (!out) throw new Error('gc-probe: set GC_PROBE_OUT to the file the windows are appended to');
  const raw = env.GC_PROBE_WINDOW_MS ?? '10000';
  const windowMs = Number(raw);
  if (!/^\d+$/.test(raw) || windowMs < 10 || windowMs > 3_600_000) {
    throw new Error(`gc-probe: GC_PROBE_WINDOW_MS must be a whole number from 10 to 3600000, not "${raw}"`);
  }
  return { out, windowMs };
}

// Loaded with `--import`, the module starts itself; imported by its test, it only exports.
if (process.env.GC_PROBE_OUT !== undefined || process.env.GC_PROBE_WINDOW_MS !== undefined) {
  const { out, windowMs } = probeSettings(process.env);
  const window = (): void => {
    const profiler = new GCProfiler();
    profiler.start();
    setTimeout(() => {
      const { statistics } = profiler.stop() as unknown as { statistics: GcRecord[] };
      if (statistics.length > 0) {
        const atS = Math.round(performance.now()) / 1000;
        appendFileSync(out, `${JSON.stringify(summariseWindow(statistics, process.pid, atS))}\n`);
      }
      window();
    }, windowMs).unref();
  };
  window();
}
