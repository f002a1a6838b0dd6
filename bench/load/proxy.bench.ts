/**
 * `npm run bench:proxy`: the proxy's added latency, CPU and memory, direct against proxied, on the
 * real mesh (control plane, embedded PostgreSQL, sidecar proxy with authentication, the grant policy
 * and audit on). `bench/README.md` describes the method and the settings.
 *
 *   1. Start the fixture, the control plane and the proxy; register, mint a token, wait for ready.
 *   2. Check one call, direct and proxied.
 *   3. For each rate: open-loop run direct, then proxied (warm-up, then the measured window).
 *   4. Saturation: closed-loop run direct, then proxied.
 *   5. Count the audit rows, write `bench/results/proxy.json` and `proxy.md`, print the table.
 *
 * With `BENCH_PROFILE=1` it runs the proxy under `--cpu-prof` at the summary rate instead and writes
 * `bench/results/proxy-profile.{json,md}` and the profile itself, `proxy.cpuprofile`.
 *
 * @module
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, release, tmpdir, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { waitForAuditRows } from './audit-rows.ts';
import { createChildren } from './children.ts';
import { profileMarkdown, summariseCpuProfile } from './cpu-profile.ts';
import { describe, measure, type Processes, startGenerator } from './measure.ts';
import {
  BENCH_SERVER,
  defaultProxyMain,
  freePort,
  preflight,
  registerFixture,
  startControlPlane,
  startFixture,
  startProxy,
} from './mesh.ts';
import { TEXT_1K, toolsCallBody } from './payload.ts';
import { memory } from './proc-stats.ts';
import type { LoadCommand, Target } from './protocol.ts';
import { added, markdown, type Pair, type RunRecord, summarise, targets } from './report.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new TypeError(`${name}: "${raw}" must be a number in ${min}..${max}`);
  }
  return n;
}

const settings = {
  rates: (process.env.BENCH_RATES || '500,1000,2000').split(',').map((r) => {
    const n = Number(r);
    if (!Number.isInteger(n) || n < 1 || n > 20_000) {
      throw new TypeError(`BENCH_RATES: "${r}" must be a whole number in 1..20000`);
    }
    return n;
  }),
  summaryRate: envNumber('BENCH_SUMMARY_RATE', 1000, 1, 20_000),
  warmupS: envNumber('BENCH_WARMUP_S', 3, 0, 60),
  measureS: envNumber('BENCH_MEASURE_S', 10, 1, 120),
  saturationS: envNumber('BENCH_SATURATION_S', 10, 1, 120),
  concurrency: envNumber('BENCH_CONCURRENCY', 64, 1, 1024),
  connections: envNumber('BENCH_CONNECTIONS', 64, 1, 1024),
  profile: process.env.BENCH_PROFILE === '1',
  /** Start the proxy with a warmed compile cache, as the proxy image does (BENCH_COMPILE_CACHE=0: without). */
  compileCache: process.env.BENCH_COMPILE_CACHE !== '0',
  proxyMain: resolve(process.env.BENCH_PROXY_MAIN || defaultProxyMain),
  /** Node flags for the proxy process, e.g. `--max-semi-space-size=2`, to try a tuning. */
  // The flags local mode starts proxies with (control-plane/src/local/proxy-supervisor.ts).
  proxyNodeArgs: (process.env.BENCH_PROXY_NODE_ARGS ?? '--max-semi-space-size=2')
    .split(/\s+/)
    .filter((a) => a !== ''),
  outDir: resolve(process.env.BENCH_OUT_DIR || join(import.meta.dirname, '..', 'results')),
};
if (!settings.profile && !settings.rates.includes(settings.summaryRate)) {
  throw new TypeError(`BENCH_RATES must include the summary rate ${settings.summaryRate}`);
}

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function machine() {
  const list = cpus();
  return {
    cpus: list.length,
    cpu_model: list[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
  };
}

/** The commit measured, and whether the proxy's sources differ from it. */
function sourceState() {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  return {
    commit: git('rev-parse', 'HEAD') || 'unknown',
    proxy_sources_modified: git('status', '--porcelain', '--', 'proxy/src') !== '',
    proxy_main: relative(repoRoot, settings.proxyMain),
  };
}

/**
 * Loads the proxy's modules once with Node's compile cache on, as `docker/proxy.Dockerfile` does at
 * build time: a proxy started with the cache neither strips types nor compiles from scratch, and never
 * maps the type stripper's memory.
 */
async function warmCompileCache(dir: string): Promise<string> {
  // With no settings the proxy stops at its bootstrap check, after every module has been compiled.
  const env = { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: dir };
  spawnSync(process.execPath, [settings.proxyMain], { env, stdio: 'ignore', timeout: 60_000 });
  // And the modules loaded on demand, as the image build does.
  const warmup = join(dirname(settings.proxyMain), 'compile-cache-warmup.ts');
  if (existsSync(warmup)) spawnSync(process.execPath, [warmup], { env, stdio: 'ignore', timeout: 60_000 });
  return dir;
}

async function main(): Promise<void> {
  const started = Date.now();
  // Also the control plane's data directory: as root, the embedded PostgreSQL runs as another user,
  // which can traverse this directory (tessera opens it up) but not a private parent of it.
  const tmp = await mkdtemp(join(tmpdir(), 'tessera-bench-'));
  const children = createChildren();
  let cleaning: Promise<void> | undefined;
  const cleanup = () => {
    cleaning ??= children.stopAll().finally(() => rm(tmp, { recursive: true, force: true }));
    return cleaning;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the child processes`);
      void cleanup().finally(() => process.exit(130));
    });
  }

  try {
    // 1. The mesh.
    const fixture = await startFixture(children);
    const cp = await startControlPlane(children, tmp);
    log(`fixture at ${fixture.url}; control plane ready (admin ${cp.apiUrl}, mesh ${cp.meshUrl})`);
    const proxyUrl = `http://127.0.0.1:${await freePort()}/mcp`;
    const token = await registerFixture(cp, fixture.url, proxyUrl);
    const profileDir = join(tmp, 'profile');
    const compileCache = settings.compileCache
      ? await warmCompileCache(join(tmp, 'compile-cache'))
      : undefined;
    const proxy = await startProxy(children, {
      compileCache,
      cp,
      main: settings.proxyMain,
      port: Number(new URL(proxyUrl).port),
      fixtureUrl: fixture.url,
      spoolDir: join(tmp, 'proxy-spool'),
      snapshotDir: join(tmp, 'proxy-snapshot'),
      nodeArgs: [
        ...settings.proxyNodeArgs,
        ...(settings.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
      ],
    });
    const idleMemory = memory(proxy.pid);
    log(`proxy ready at ${proxyUrl} (pid ${proxy.pid}, ${relative(repoRoot, settings.proxyMain)})`);

    // 2. One checked call each way.
    await preflight(fixture.url, undefined);
    await preflight(proxyUrl, token);
    const generator = await startGenerator(children);
    const p: Processes = { proxy, fixture: fixture.child, generator, controlPlane: cp.child };
    const target = (kind: RunRecord['target']): Target => ({
      url: kind === 'direct' ? fixture.url : proxyUrl,
      token: kind === 'direct' ? undefined : token,
      connections: settings.connections,
    });
    const open = (kind: RunRecord['target'], rate: number): LoadCommand => ({
      kind: 'open',
      target: target(kind),
      rate,
      warmupS: settings.warmupS,
      measureS: settings.measureS,
    });
    const closed = (kind: RunRecord['target']): LoadCommand => ({
      kind: 'closed',
      target: target(kind),
      concurrency: settings.concurrency,
      warmupS: 2,
      measureS: settings.saturationS,
    });
    await mkdir(settings.outDir, { recursive: true });
    if (settings.profile) {
      await runProfile(p, open('proxied', settings.summaryRate), profileDir);
      return;
    }

    // 3. and 4. Open loop at each rate, then saturation; direct, then proxied.
    const pairs: Pair[] = [];
    let proxiedSent = 1;
    const runs: [Pair['rate'], (kind: RunRecord['target']) => LoadCommand, string][] = [
      ...settings.rates.map((rate): [number, (k: RunRecord['target']) => LoadCommand, string] => [
        rate,
        (kind) => open(kind, rate),
        `${rate} req/s: ${settings.warmupS} s warm-up + ${settings.measureS} s measured, each way`,
      ]),
      [
        'saturation',
        closed,
        `saturation: ${settings.concurrency} concurrent, 2 s warm-up + ${settings.saturationS} s measured, each way`,
      ],
    ];
    for (const [rate, command, title] of runs) {
      log(title);
      const { record: direct } = await measure(p, 'direct', command('direct'));
      log(`  ${describe(direct)}`);
      await sleep(1_000);
      const { record: proxied } = await measure(p, 'proxied', command('proxied'));
      log(`  ${describe(proxied)}`);
      proxiedSent += proxied.result.total.sent;
      pairs.push({
        rate,
        direct,
        proxied,
        added: added(direct.result.latency, proxied.result.latency),
        added_service: added(direct.result.service, proxied.result.service),
      });
      await sleep(1_000);
    }

    // 5. Audit rows, results, table.
    const audit = await waitForAuditRows(tmp, cp.pgPort, BENCH_SERVER, proxiedSent, 20_000);
    log(`audit: ${audit.rows} rows in ${audit.batches} batches for ${proxiedSent} proxied requests`);
    const summary = summarise(pairs, settings.summaryRate);
    const verdicts = targets(summary);
    const m = machine();
    const date = new Date().toISOString();
    const table = markdown(pairs, summary, verdicts, {
      date: date.slice(0, 10),
      machine: `${m.cpus} × ${m.cpu_model}, Node ${m.node}; the load generator, fixture, proxy, control plane and PostgreSQL share these cores`,
      method: `Open loop (latency from each request's intended send time), ${settings.warmupS} s warm-up + ${settings.measureS} s measured per run; saturation: closed loop, ${settings.concurrency} concurrent requests. A 1 KB \`tools/call\` answered with 1 KB; authentication, grant and audit on.`,
    });
    const results = {
      summary,
      targets: verdicts,
      date,
      duration_s: Math.round((Date.now() - started) / 1000),
      machine: m,
      source: sourceState(),
      settings: { ...settings, proxyMain: undefined, outDir: undefined },
      payload: { request_bytes: Buffer.byteLength(toolsCallBody(1)), response_text_chars: TEXT_1K.length },
      proxy_idle_memory: idleMemory,
      audit: {
        proxied_requests: proxiedSent,
        rows_stored: audit.rows,
        batches: audit.batches,
        mean_batch_events: Math.round((audit.rows / Math.max(1, audit.batches)) * 10) / 10,
      },
      runs: pairs,
    };
    await writeFile(join(settings.outDir, 'proxy.json'), `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(join(settings.outDir, 'proxy.md'), table);
    process.stdout.write(`\n${table}\n`);
    log(`wrote proxy.json and proxy.md in ${settings.outDir} (${results.duration_s} s)`);
  } finally {
    await cleanup();
  }
}

/** The profiled run: one rate, proxied; then the proxy stops so that V8 writes its profile. */
async function runProfile(p: Processes, command: LoadCommand, profileDir: string): Promise<void> {
  log(`profile: proxied at ${settings.summaryRate} req/s under --cpu-prof`);
  const { record, window } = await measure(p, 'proxied', command);
  log(`  ${describe(record)}`);
  await p.proxy.stop();
  const files = (await readdir(profileDir)).filter((f) => f.endsWith('.cpuprofile'));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${profileDir}, found ${files.length}`);
  const profileFile = join(settings.outDir, 'proxy.cpuprofile');
  await copyFile(join(profileDir, files[0]!), profileFile);
  const range = { fromUs: Number(window.startNs / 1000n), toUs: Number(window.endNs / 1000n) };
  let profile = await summariseCpuProfile(profileFile, range);
  if (profile.window_ms === 0) {
    log('no profile samples fall in the measured window (another clock?): summarising the whole profile');
    profile = await summariseCpuProfile(profileFile, undefined);
  }
  const results = {
    date: new Date().toISOString(),
    machine: machine(),
    source: sourceState(),
    run: record,
    profile,
  };
  await writeFile(join(settings.outDir, 'proxy-profile.json'), `${JSON.stringify(results, null, 2)}\n`);
  const md = profileMarkdown(profile);
  await writeFile(join(settings.outDir, 'proxy-profile.md'), md);
  process.stdout.write(`\n${md}\n`);
  log(`wrote proxy-profile.json, proxy-profile.md and proxy.cpuprofile in ${settings.outDir}`);
}

main().catch((err: unknown) => {
  log(`failed: ${(err as Error).stack ?? String(err)}`);
  process.exitCode = 1;
});
