/**
 * `npm run bench:steps`: the proxy's own per-request steps timed alone (`steps.ts`), warm and after
 * pauses. Writes `results/steps.json` and `results/steps.md`. About 45 seconds.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { machine, sourceState } from './machine.ts';
import { measureAfterPause, measureSteps, type Pause, STEPS, stepsMarkdown } from './steps.ts';

const positive = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1)
    throw new TypeError(`${name}: "${process.env[name]}" must be a whole number ≥ 1`);
  return value;
};
/** A comma-separated list of pauses in milliseconds, each above 0 and at most a second. */
const pausesMs = (name: string, fallback: string): number[] => {
  const text = process.env[name] ?? fallback;
  if (text.trim() === '') return [];
  return text.split(',').map((item) => {
    const ms = Number(item.trim());
    if (!Number.isFinite(ms) || ms <= 0 || ms > 1000)
      throw new TypeError(`${name}: "${item}" must be a number of milliseconds above 0 and at most 1000`);
    return ms;
  });
};
const settings = {
  runs: positive('BENCH_STEPS_RUNS', 100_000),
  batches: positive('BENCH_STEPS_BATCHES', 7),
  warmup: positive('BENCH_STEPS_WARMUP', 50_000),
  // 1 ms is the gap between requests at the end-to-end benchmark's summary rate (1000 req/s).
  sleepsMs: pausesMs('BENCH_STEPS_SLEEPS_MS', '0.01,0.1,1,3'),
  spinsMs: pausesMs('BENCH_STEPS_SPINS_MS', '1'),
  pauseRounds: positive('BENCH_STEPS_PAUSE_ROUNDS', 2_000),
  outDir: resolve(process.env.BENCH_OUT_DIR || join(import.meta.dirname, '..', 'results')),
};

const steps = measureSteps(STEPS, settings);
const total_ns = Math.round(steps.reduce((sum, s) => sum + s.ns, 0));
const pauses: Pause[] = [
  ...settings.sleepsMs.map((ms) => ({ ms, how: 'sleep' as const })),
  ...settings.spinsMs.map((ms) => ({ ms, how: 'spin' as const })),
];
// The steps are optimised by now (the warm loops ran them hundreds of thousands of times).
const after_pause = pauses.map((p) => measureAfterPause(STEPS, p, settings.pauseRounds));
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  source: sourceState(),
  settings: {
    runs: settings.runs,
    batches: settings.batches,
    warmup: settings.warmup,
    sleeps_ms: settings.sleepsMs,
    spins_ms: settings.spinsMs,
    pause_rounds: settings.pauseRounds,
  },
  total_ns,
  steps,
  after_pause,
};
const md = stepsMarkdown(
  steps,
  after_pause,
  after_pause.find((p) => p.how === 'sleep' && p.ms === 1),
);
await mkdir(settings.outDir, { recursive: true });
await writeFile(join(settings.outDir, 'steps.json'), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(join(settings.outDir, 'steps.md'), md);
process.stdout.write(`\n${md}\n`);
process.stderr.write(`[bench] wrote steps.json and steps.md in ${settings.outDir}\n`);
