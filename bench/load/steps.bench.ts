/**
 * `npm run bench:steps`: the proxy's own per-request steps timed alone (`steps.ts`). Writes
 * `results/steps.json` and `results/steps.md`. About half a minute.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { machine, sourceState } from './machine.ts';
import { measureSteps, STEPS, stepsMarkdown } from './steps.ts';

const positive = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1)
    throw new TypeError(`${name}: "${process.env[name]}" must be a whole number ≥ 1`);
  return value;
};
const settings = {
  runs: positive('BENCH_STEPS_RUNS', 100_000),
  batches: positive('BENCH_STEPS_BATCHES', 7),
  warmup: positive('BENCH_STEPS_WARMUP', 50_000),
  outDir: resolve(process.env.BENCH_OUT_DIR || join(import.meta.dirname, '..', 'results')),
};

const steps = measureSteps(STEPS, settings);
const total_ns = Math.round(steps.reduce((sum, s) => sum + s.ns, 0));
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  source: sourceState(),
  settings: { runs: settings.runs, batches: settings.batches, warmup: settings.warmup },
  total_ns,
  steps,
};
const md = stepsMarkdown(steps);
await mkdir(settings.outDir, { recursive: true });
await writeFile(join(settings.outDir, 'steps.json'), `${JSON.stringify(results, null, 2)}\n`);
await writeFile(join(settings.outDir, 'steps.md'), md);
process.stdout.write(`\n${md}\n`);
process.stderr.write(`[bench] wrote steps.json and steps.md in ${settings.outDir}\n`);
