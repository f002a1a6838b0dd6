import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type GcRecord, type GcWindow, probeSettings, summariseWindow } from './gc-probe.ts';

const PROBE = fileURLToPath(new URL('./gc-probe.ts', import.meta.url));
const MB = 1048576;

/** A collection whose young and old generations held these many bytes before and after. */
function gc(type: string, costUs: number, young: [number, number], old: [number, number]): GcRecord {
  const side = (y: number, o: number) => ({
    heapSpaceStatistics: [
      { spaceName: 'new_space', spaceUsedSize: y },
      { spaceName: 'old_space', spaceUsedSize: o },
      { spaceName: 'code_space', spaceUsedSize: 5 * MB },
    ],
  });
  return { gcType: type, cost: costUs, beforeGC: side(young[0], old[0]), afterGC: side(young[1], old[1]) };
}

describe('the GC probe', () => {
  it('sums a window: young and full collections, allocation, promotion and survivors', () => {
    const w = summariseWindow(
      [
        gc('Scavenge', 500, [1 * MB, 0.25 * MB], [10 * MB, 10.5 * MB]),
        gc('Scavenge', 700, [1.25 * MB, 0.75 * MB], [10.5 * MB, 10.75 * MB]),
        gc('MarkSweepCompact', 3000, [0.75 * MB, 0.5 * MB], [10.75 * MB, 8 * MB]),
      ],
      42,
      12.5,
    );
    assert.deepEqual(w, {
      pid: 42,
      at_s: 12.5,
      young_gcs: 2,
      young_pause_ms: 1.2,
      full_gcs: 1,
      full_pause_ms: 3,
      // From the second collection on: 1.25 − 0.25, then 0.75 − 0.75.
      allocated_young_mb: 1,
      promoted_mb: 0.75,
      young_survivors_kb: 512,
    } satisfies GcWindow);
  });

  it('refuses a missing output file or a malformed window, naming the variable', () => {
    assert.throws(() => probeSettings({}), /GC_PROBE_OUT/);
    for (const bad of ['abc', '5', '1e4', '-100', '']) {
      assert.throws(
        () => probeSettings({ GC_PROBE_OUT: '/tmp/x', GC_PROBE_WINDOW_MS: bad }),
        /GC_PROBE_WINDOW_MS must be a whole number/,
        bad,
      );
    }
    assert.deepEqual(probeSettings({ GC_PROBE_OUT: '/tmp/x' }), { out: '/tmp/x', windowMs: 10000 });
  });

  it('records the collections of the process it is loaded into', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'gc-probe-')), 'gc.jsonl');
    // Short-lived garbage for 600 ms: young collections, little promotion.
    const script =
      'const end = Date.now() + 600; let keep; (function spin() { for (let i = 0; i < 2e4; i++) keep = { i, s: "x" + i }; if (Date.now() < end) setImmediate(spin); })();';
    const child = spawnSync(
      process.execPath,
      ['--max-semi-space-size=1', `--import=${PROBE}`, '-e', script],
      {
        env: { ...process.env, GC_PROBE_OUT: out, GC_PROBE_WINDOW_MS: '200' },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.equal(child.status, 0, child.stderr);
    const windows = readFileSync(out, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as GcWindow);
    assert.ok(windows.length >= 1, 'at least one window with collections');
    for (const w of windows) assert.equal(w.pid, child.pid);
    const young = windows.reduce((n, w) => n + w.young_gcs, 0);
    const allocated = windows.reduce((n, w) => n + w.allocated_young_mb, 0);
    assert.ok(young >= 2, `young collections: ${young}`);
    assert.ok(allocated > 1, `allocated in the young generation: ${allocated} MB`);
  });

  it('stops the process from starting when a setting is malformed', () => {
    const child = spawnSync(process.execPath, [`--import=${PROBE}`, '-e', 'console.log("ran")'], {
      env: { ...process.env, GC_PROBE_OUT: '/tmp/never', GC_PROBE_WINDOW_MS: 'soon' },
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.notEqual(child.status, 0);
    assert.doesNotMatch(child.stdout, /ran/);
    assert.match(child.stderr, /GC_PROBE_WINDOW_MS must be a whole number from 10 to 3600000, not "soon"/);
  });
});
