/**
 * `npm run bench:proxy`: the proxy's added latency, CPU and memory, direct against proxied, on the
 * real mesh (control plane, embedded PostgreSQL, sidecar proxy with authentication, the grant policy
 * and audit on). `bench/README.md` describes the method and the settings.
 *
 *   1. Start the fixture, the control plane and the proxy; register, mint a token, wait for ready.
 *   2. Check one call, direct and proxied.
 *   3. For each rate: open-loop run direct, then proxied (warm-up, then the measured window); at the
 *      summary rate also through the reference forwarder (no authentication, policy or audit), and
 *      all three `BENCH_ROUNDS` times, so that the summary takes medians rather than one run.
 *   4. Saturation: closed-loop run direct, then proxied, then through the reference forwarder.
 *   Context: an MCP server built with the official SDK behind its own proxy, direct then proxied at
 *   `BENCH_SDK_RATE` and at saturation.
 *   5. Count the audit rows, write `bench/results/proxy.json` and `proxy.md`, print the table.
 *
 * With `BENCH_PROFILE=1` it runs the proxy under `--cpu-prof` at the summary rate instead and writes
 * `bench/results/proxy-profile.{json,md}` and the profile itself, `proxy.cpuprofile`.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { waitForAuditRows } from './audit-rows.ts';
import { createChildren } from './children.ts';
import { profileMarkdown, summariseCpuProfile } from './cpu-profile.ts';
import { machine, repoRoot, sourceState } from './machine.ts';
import { describe, measure, type Processes, startGenerator } from './measure.ts';
import {
  BENCH_SDK_SERVER,
  BENCH_SERVER,
  defaultProxyMain,
  freePort,
  preflight,
  registerServer,
  startControlPlane,
  startFixture,
  startProxy,
  startReferenceForwarder,
  startSdkServer,
} from './mesh.ts';
import { TEXT_1K, toolsCallBody } from './payload.ts';
import { descendantCpuSeconds, memory } from './proc-stats.ts';
import type { LoadCommand, Target } from './protocol.ts';
import { added, markdown, type Pair, type RunRecord, summarise, targets } from './report.ts';

const referenceForwarderMain = join(import.meta.dirname, 'reference-forwarder.ts');

function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    throw new TypeError(`${name}: "${raw}" must be a number in ${min}..${max}`);
  }
  return n;
}

/** `NAME=value NAME2=value2` as an object; a word without `=` or with an invalid name is refused. */
function parseEnvList(name: string, raw: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const word of raw.split(/\s+/).filter((w) => w !== '')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(word);
    if (!m) throw new TypeError(`${name}: "${word}" must be NAME=value`);
    env[m[1]!] = m[2]!;
  }
  return env;
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
  /** The SDK server's open-loop rate: it needs several times the fixture's CPU per request. */
  sdkRate: envNumber('BENCH_SDK_RATE', 500, 1, 20_000),
  /** Rounds at the summary rate (direct, proxied, forwarder each time); the summary takes medians. */
  rounds: envNumber('BENCH_ROUNDS', 3, 1, 9),
  warmupS: envNumber('BENCH_WARMUP_S', 3, 0, 60),
  measureS: envNumber('BENCH_MEASURE_S', 10, 1, 120),
  saturationS: envNumber('BENCH_SATURATION_S', 10, 1, 120),
  concurrency: envNumber('BENCH_CONCURRENCY', 64, 1, 1024),
  connections: envNumber('BENCH_CONNECTIONS', 64, 1, 1024),
  profile: process.env.BENCH_PROFILE === '1',
  /**
   * An experiment, not for the README's figures: SIGSTOP the control plane and its PostgreSQL during
   * the proxied run of the odd rounds at the summary rate, so that rounds with and without the audit
   * events being stored on the same cores compare under the same host load. The proxy spools
   * meanwhile and ships afterwards; the summary's medians mix both kinds of round.
   */
  pauseControlPlane: process.env.BENCH_PAUSE_CONTROL_PLANE === '1',
  /**
   * An experiment, not for the README's figures: run the control plane and its PostgreSQL under
   * SCHED_IDLE once the mesh is set up, so that they store the audit events only with CPU nothing else
   * wants. It stands in for their own machines, as in a deployment, while the events are still stored.
   */
  idleControlPlane: process.env.BENCH_IDLE_CONTROL_PLANE === '1',
  /**
   * An experiment, not for the README's figures: the proxy (and the forwarder, and the SDK server's
   * proxy) alone on the machine's last CPU, every other process on the rest, so that nothing else runs
   * on the proxy's core and the others' work does not wait for it (`taskset`).
   */
  pinProxy: process.env.BENCH_PIN_PROXY === '1',
  /** Start the proxy with a warmed compile cache, as the proxy image does (BENCH_COMPILE_CACHE=0: without). */
  compileCache: process.env.BENCH_COMPILE_CACHE !== '0',
  proxyMain: resolve(process.env.BENCH_PROXY_MAIN || defaultProxyMain),
  /** Node flags for the proxy process, e.g. `--max-semi-space-size=2`, to try a tuning. */
  // The flags local mode starts proxies with (control-plane/src/local/proxy-supervisor.ts).
  proxyNodeArgs: (process.env.BENCH_PROXY_NODE_ARGS ?? '--max-semi-space-size=1')
    .split(/\s+/)
    .filter((a) => a !== ''),
  /** Extra environment for the proxy and the forwarder, `NAME=value` separated by spaces, e.g. a glibc
   * malloc tuning (`MALLOC_ARENA_MAX=2`); the children do not inherit the driver's environment. */
  // What local mode and the proxy image set (PROXY_ENV in control-plane/src/local/proxy-supervisor.ts).
  proxyEnv: parseEnvList('BENCH_PROXY_ENV', process.env.BENCH_PROXY_ENV ?? 'MALLOC_MMAP_THRESHOLD_=8192'),
  outDir: resolve(process.env.BENCH_OUT_DIR || join(import.meta.dirname, '..', 'results')),
};
if (!Number.isInteger(settings.rounds)) {
  throw new TypeError(`BENCH_ROUNDS: "${settings.rounds}" must be a whole number`);
}
if (!settings.profile && !settings.rates.includes(settings.summaryRate)) {
  throw new TypeError(`BENCH_RATES must include the summary rate ${settings.summaryRate}`);
}

const log = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Puts every thread of each process under SCHED_IDLE; processes they fork later inherit it. */
function idleScheduling(pids: number[]): void {
  for (const pid of pids) {
    const r = spawnSync('chrt', ['--idle', '--all-tasks', '--pid', '0', String(pid)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`chrt --idle for pid ${pid} failed: ${r.error ?? r.stderr}`);
  }
  log(`control plane and PostgreSQL under SCHED_IDLE (${pids.length} processes)`);
}

/** Binds every thread of `pid` (and what it starts later) to the CPUs in `list`, such as `0-2`. */
function pin(pid: number, list: string): void {
  const r = spawnSync('taskset', ['--all-tasks', '--cpu-list', '--pid', list, String(pid)], {
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`taskset ${list} for pid ${pid} failed: ${r.error ?? r.stderr}`);
}

/** Under BENCH_PIN_PROXY: the proxy's CPU, and the others'. */
function pinning(): { proxy: string; others: string } | undefined {
  if (!settings.pinProxy) return undefined;
  const n = cpus().length;
  if (n < 2) throw new Error('BENCH_PIN_PROXY needs at least 2 CPUs');
  return { proxy: String(n - 1), others: n === 2 ? '0' : `0-${n - 2}` };
}

/** The commit measured, whether the proxy's sources differ from it, and the proxy entry point run. */
const source = () => ({ ...sourceState(), proxy_main: relative(repoRoot, settings.proxyMain) });

/**
 * Loads a Node program's modules once with Node's compile cache on, as `docker/proxy.Dockerfile` does
 * for the proxy at build time: a process started with the cache neither strips types nor compiles from
 * scratch, and never maps the type stripper's memory. The reference forwarder gets the same, so that
 * the two are compared on equal terms.
 */
async function warmCompileCache(dir: string, main: string): Promise<string> {
  // With no settings the program stops at its bootstrap check, after every module has been compiled.
  const env = { PATH: process.env.PATH ?? '', NODE_COMPILE_CACHE: dir };
  spawnSync(process.execPath, [main], { env, stdio: 'ignore', timeout: 60_000 });
  // And the proxy's modules loaded on demand, as the image build does.
  const warmup = join(dirname(main), 'compile-cache-warmup.ts');
  if (existsSync(warmup)) spawnSync(process.execPath, [warmup], { env, stdio: 'ignore', timeout: 60_000 });
  return dir;
}

/** Where a pair of runs sends its requests: straight to the upstream, through its proxy, or through the reference forwarder. */
interface Route {
  direct: string;
  proxied: string;
  token: string;
  reference?: string;
}

type Load = Pair['rate'];

/** The audit section of the results: the rows stored for one server's proxied requests. */
async function auditOf(tmp: string, pgPort: number, server: string, proxied: number) {
  const audit = await waitForAuditRows(tmp, pgPort, server, proxied, 20_000);
  const line = `audit (${server}): ${audit.rows} rows in ${audit.batches} batches for ${proxied} proxied requests`;
  log(audit.rows === proxied ? line : `${line}: MISSING ROWS`);
  return {
    proxied_requests: proxied,
    rows_stored: audit.rows,
    batches: audit.batches,
    mean_batch_events: Math.round((audit.rows / Math.max(1, audit.batches)) * 10) / 10,
  };
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

  const pins = pinning();
  // Every process the driver starts from now on inherits the others' CPUs.
  if (pins) {
    pin(process.pid, pins.others);
    log(`pinned: the proxy or forwarder on CPU ${pins.proxy}, every other process on ${pins.others}`);
  }
  const pinned = <T extends { pid: number }>(middle: T): T => {
    if (pins) pin(middle.pid, pins.proxy);
    return middle;
  };

  try {
    // 1. The mesh.
    const fixture = await startFixture(children);
    const cp = await startControlPlane(children, tmp);
    log(`fixture at ${fixture.url}; control plane ready (admin ${cp.apiUrl}, mesh ${cp.meshUrl})`);
    const proxyUrl = `http://127.0.0.1:${await freePort()}/mcp`;
    const token = await registerServer(cp, BENCH_SERVER, fixture.url, proxyUrl);
    if (settings.idleControlPlane)
      idleScheduling([cp.child.pid, ...descendantCpuSeconds(cp.child.pid).keys()]);
    const profileDir = join(tmp, 'profile');
    const cacheDir = join(tmp, 'compile-cache');
    const compileCache = settings.compileCache
      ? await warmCompileCache(cacheDir, settings.proxyMain)
      : undefined;
    /** A proxy for `server` listening on `url`, with its own spool and snapshot directories. */
    const proxyFor = async (server: string, upstreamUrl: string, url: string, nodeArgs: string[]) =>
      pinned(
        await startProxy(children, {
          compileCache,
          cp,
          server,
          main: settings.proxyMain,
          port: Number(new URL(url).port),
          upstreamUrl,
          spoolDir: join(tmp, `${server}-proxy-spool`),
          snapshotDir: join(tmp, `${server}-proxy-snapshot`),
          nodeArgs,
          env: settings.proxyEnv,
        }),
      );
    const proxy = await proxyFor(BENCH_SERVER, fixture.url, proxyUrl, [
      ...settings.proxyNodeArgs,
      ...(settings.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ]);
    const idleMemory = memory(proxy.pid);
    log(`proxy ready at ${proxyUrl} (pid ${proxy.pid}, ${relative(repoRoot, settings.proxyMain)})`);

    // 2. One checked call each way.
    await preflight(fixture.url, undefined);
    await preflight(proxyUrl, token);
    const generator = await startGenerator(children);
    const p: Processes = { proxy, fixture: fixture.child, generator, controlPlane: cp.child };
    const target = (route: Route, kind: RunRecord['target']): Target => ({
      url: route[kind] ?? route.direct,
      token: kind === 'proxied' ? route.token : undefined,
      connections: settings.connections,
    });
    const open =
      (route: Route, rate: number) =>
      (kind: RunRecord['target']): LoadCommand => ({
        kind: 'open',
        target: target(route, kind),
        rate,
        warmupS: settings.warmupS,
        measureS: settings.measureS,
      });
    const closed =
      (route: Route) =>
      (kind: RunRecord['target']): LoadCommand => ({
        kind: 'closed',
        target: target(route, kind),
        concurrency: settings.concurrency,
        warmupS: 2,
        measureS: settings.saturationS,
      });
    const command = (route: Route, load: Load) => (load === 'saturation' ? closed(route) : open(route, load));
    const title = (load: Load) =>
      load === 'saturation'
        ? `saturation: ${settings.concurrency} concurrent, 2 s warm-up + ${settings.saturationS} s measured, each way`
        : `${load} req/s: ${settings.warmupS} s warm-up + ${settings.measureS} s measured, each way`;
    /** The control plane and every process under it (its PostgreSQL): stopped, or running again. */
    const signalControlPlane = (signal: 'SIGSTOP' | 'SIGCONT') => {
      for (const pid of [cp.child.pid, ...descendantCpuSeconds(cp.child.pid).keys()])
        process.kill(pid, signal);
    };
    /** Direct, then proxied: one pair of runs at one load. */
    const runPair = async (procs: Processes, route: Route, load: Load, pause = false): Promise<Pair> => {
      const { record: direct } = await measure(procs, 'direct', command(route, load)('direct'));
      log(`  ${describe(direct)}`);
      await sleep(1_000);
      if (pause) signalControlPlane('SIGSTOP');
      let proxied: RunRecord;
      try {
        ({ record: proxied } = await measure(procs, 'proxied', command(route, load)('proxied')));
      } finally {
        if (pause) signalControlPlane('SIGCONT');
      }
      log(`  ${describe(proxied)}${pause ? ' (control plane paused)' : ''}`);
      return {
        rate: load,
        direct,
        proxied,
        added: added(direct.result.latency, proxied.result.latency),
        added_service: added(direct.result.service, proxied.result.service),
        ...(pause && { control_plane_paused: true as const }),
      };
    };
    await mkdir(settings.outDir, { recursive: true });
    if (settings.profile) {
      await runProfile(
        p,
        open({ direct: fixture.url, proxied: proxyUrl, token }, settings.summaryRate)('proxied'),
        profileDir,
      );
      return;
    }

    // The reference forwarder, in front of the same fixture; idle until its own runs.
    const forwarderUrl = `http://127.0.0.1:${await freePort()}/mcp`;
    const forwarder = pinned(
      await startReferenceForwarder(children, {
        main: referenceForwarderMain,
        port: Number(new URL(forwarderUrl).port),
        upstreamUrl: fixture.url,
        compileCache: settings.compileCache
          ? await warmCompileCache(cacheDir, referenceForwarderMain)
          : undefined,
        nodeArgs: settings.proxyNodeArgs,
        env: settings.proxyEnv,
      }),
    );
    const forwarderIdleMemory = memory(forwarder.pid);
    await preflight(forwarderUrl, undefined);
    const route: Route = { direct: fixture.url, proxied: proxyUrl, token, reference: forwarderUrl };

    // 3. and 4. Open loop at each rate, then saturation; direct, then proxied, and at the summary
    // rate and at saturation the reference forwarder right after.
    const pairs: Pair[] = [];
    let proxiedSent = 1;
    for (const load of [...settings.rates, 'saturation' as const]) {
      const rounds = load === settings.summaryRate ? settings.rounds : 1;
      for (let r = 1; r <= rounds; r++) {
        log(rounds > 1 ? `${title(load)} (round ${r} of ${rounds})` : title(load));
        const pause = settings.pauseControlPlane && load === settings.summaryRate && r % 2 === 1;
        const pair = await runPair(p, route, load, pause);
        if (rounds > 1) pair.round = r;
        proxiedSent += pair.proxied.result.total.sent;
        if (pause) {
          // The backlog is stored before the forwarder's run, which it would otherwise disturb.
          const { rows } = await waitForAuditRows(tmp, cp.pgPort, BENCH_SERVER, proxiedSent, 60_000);
          log(`  the control plane stored the backlog (${rows} of ${proxiedSent} rows)`);
        }
        if (load === settings.summaryRate || load === 'saturation') {
          await sleep(1_000);
          const { record } = await measure(
            { ...p, proxy: forwarder },
            'reference',
            command(route, load)('reference'),
          );
          log(`  ${describe(record)}`);
          pair.reference = {
            run: record,
            added: added(pair.direct.result.latency, record.result.latency),
            added_service: added(pair.direct.result.service, record.result.service),
          };
        }
        pairs.push(pair);
        await sleep(1_000);
      }
    }

    // The SDK server, registered and started only now so that the runs above have the machine as
    // before; a pair of runs at its own rate and at saturation, through its own proxy.
    const sdk = await startSdkServer(children);
    const sdkProxyUrl = `http://127.0.0.1:${await freePort()}/mcp`;
    const sdkToken = await registerServer(cp, BENCH_SDK_SERVER, sdk.url, sdkProxyUrl);
    const sdkProxy = await proxyFor(BENCH_SDK_SERVER, sdk.url, sdkProxyUrl, settings.proxyNodeArgs);
    const sdkIdleMemory = memory(sdkProxy.pid);
    await preflight(sdk.url, undefined);
    await preflight(sdkProxyUrl, sdkToken);
    log(`SDK server at ${sdk.url}, its proxy at ${sdkProxyUrl}`);
    const sdkProcs: Processes = { ...p, proxy: sdkProxy, fixture: sdk.child };
    const sdkRoute: Route = { direct: sdk.url, proxied: sdkProxyUrl, token: sdkToken };
    const sdkPairs: Pair[] = [];
    let sdkProxiedSent = 1;
    for (const load of [settings.sdkRate, 'saturation' as const]) {
      log(`SDK server, ${title(load)}`);
      const pair = await runPair(sdkProcs, sdkRoute, load);
      sdkProxiedSent += pair.proxied.result.total.sent;
      sdkPairs.push(pair);
      await sleep(1_000);
    }

    // 5. Audit rows, results, table.
    const audit = await auditOf(tmp, cp.pgPort, BENCH_SERVER, proxiedSent);
    const sdkAudit = await auditOf(tmp, cp.pgPort, BENCH_SDK_SERVER, sdkProxiedSent);
    const summary = summarise(pairs, settings.summaryRate, sdkPairs, settings.sdkRate);
    const verdicts = targets(summary);
    const m = machine();
    const date = new Date().toISOString();
    const table = markdown(pairs, sdkPairs, summary, verdicts, {
      date: date.slice(0, 10),
      machine: pins
        ? `${m.cpus} × ${m.cpu_model}, Node ${m.node}; BENCH_PIN_PROXY: the proxy or the forwarder alone on CPU ${pins.proxy}, the load generator, fixture, control plane and PostgreSQL on ${pins.others}`
        : `${m.cpus} × ${m.cpu_model}, Node ${m.node}; the load generator, fixture, proxy, control plane and PostgreSQL share these cores`,
      method: `Open loop (latency from each request's intended send time), ${settings.warmupS} s warm-up + ${settings.measureS} s measured per run; saturation: closed loop, ${settings.concurrency} concurrent requests. A 1 KB \`tools/call\` answered with 1 KB; authentication, grant and audit on.`,
    });
    const results = {
      summary,
      targets: verdicts,
      date,
      duration_s: Math.round((Date.now() - started) / 1000),
      machine: m,
      source: source(),
      settings: { ...settings, proxyMain: undefined, outDir: undefined },
      payload: { request_bytes: Buffer.byteLength(toolsCallBody(1)), response_text_chars: TEXT_1K.length },
      proxy_idle_memory: idleMemory,
      audit,
      // Each of `runs` at the summary rate and at saturation holds the forwarder's run as `reference`.
      runs: pairs,
      reference_forwarder: {
        main: relative(repoRoot, referenceForwarderMain),
        idle_memory: forwarderIdleMemory,
      },
      sdk_server: {
        server: BENCH_SDK_SERVER,
        main: relative(repoRoot, join(import.meta.dirname, 'sdk-server.ts')),
        proxy_idle_memory: sdkIdleMemory,
        audit: sdkAudit,
        // In these runs `fixture` (CPU) is the SDK server, and `proxy` its own proxy.
        runs: sdkPairs,
      },
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
    source: source(),
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
