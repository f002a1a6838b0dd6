/**
 * `npm run bench:mesh`: how the control plane's configuration push scales with the number of proxies.
 *
 * For each N (`BENCH_MESH_N`, default 500,2000,5000):
 *   1. Start a control-plane replica (`tessera start`, its own process) on a shared PostgreSQL
 *      started by the driver, register server `bench`, and open N simulated proxies (`sim-proxies.ts`,
 *      split over two worker processes) that speak the real protocol; wait until all are synced.
 *   2. Change the server's grants (one policy that affects all N) and record, per proxy, when the new
 *      ServerPolicy arrived and was ACKed: p50 / p99 / p100 from the moment the change was sent
 *      (debounce included). Control-plane CPU over that window and its RSS come from /proc.
 *   3. SIGKILL the replica and start it again on the same ports; record when every proxy has all four
 *      types again on a new stream, measured from the moment the new replica is ready.
 * Results: `bench/results/mesh.json` (with `summary` at N = 2000) and a Markdown table on stdout.
 *
 * @module
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedDb } from '../../control-plane/src/db/embedded-db.ts';
import { createChildren } from '../load/children.ts';
import { freePort } from '../load/mesh.ts';
import { cpuSeconds, memory } from '../load/proc-stats.ts';
import type { WorkerCommand, WorkerEvent } from './sim-proxies.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const tesseraCli = join(repoRoot, 'control-plane', 'src', 'cli', 'tessera.ts');
const ADMIN = 'b'.repeat(40);
const MESH = 'c'.repeat(40);
/** Every replica of one database must share the key that wraps its secrets (README, Encryption at rest). */
const ENCRYPTION_KEYS = Buffer.alloc(32, 9).toString('base64');
const SERVER = 'bench';
const WORKERS = 2;
/** The flags `npm start` and the `tessera` bin run the control plane with (see the README). */
const CP_NODE_FLAGS = ['--max-semi-space-size=2'];
/** How long the control plane idles after a change before its steady-state memory is read. */
const SETTLE_MS = 8_000;

const sizes = (process.env.BENCH_MESH_N || '500,2000,5000').split(',').map((r) => {
  const n = Number(r);
  if (!Number.isInteger(n) || n < 1 || n > 20_000) {
    throw new TypeError(`BENCH_MESH_N: "${r}" must be a whole number in 1..20000`);
  }
  return n;
});

const children = createChildren();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const wall = () => performance.timeOrigin + performance.now();

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
const round = (x: number) => Math.round(x * 10) / 10;

async function startReplica(databaseUrl: string, dataDir: string, port: number, meshPort: number) {
  const child = children.spawn('control plane', [...CP_NODE_FLAGS, tesseraCli, 'start'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dataDir,
      DATABASE_URL: databaseUrl,
      TESSERA_DATA_DIR: dataDir,
      TESSERA_PORT: String(port),
      TESSERA_MESH_PORT: String(meshPort),
      TESSERA_PUBLIC_URL: 'http://tessera.bench',
      TESSERA_ADMIN_TOKEN: ADMIN,
      TESSERA_MESH_TOKEN: MESH,
      TESSERA_ENCRYPTION_KEYS: ENCRYPTION_KEYS,
      TESSERA_DEMO_SERVER: 'false',
      TESSERA_LOCAL_PROXIES: 'false',
      TESSERA_LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    graceMs: 10_000,
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.process.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Tessera is running.')) resolve();
    });
    void child.exited.then((code) => reject(new Error(`control plane exited ${code}:\n${child.output()}`)));
  });
  return child;
}

function api(port: number, method: string, path: string, body?: unknown) {
  return fetch(`http://127.0.0.1:${port}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** Resolves with the next event of each worker that matches. */
function fromAll<E extends WorkerEvent['ev']>(
  workers: ReturnType<typeof children.fork>[],
  ev: E,
  timeoutMs: number,
): Promise<Extract<WorkerEvent, { ev: E }>[]> {
  return Promise.all(
    workers.map(
      (w) =>
        new Promise<Extract<WorkerEvent, { ev: E }>>((resolve, reject) => {
          const timer = setTimeout(() => {
            w.process.off('message', on);
            reject(new Error(`no "${ev}" from ${w.name} within ${timeoutMs} ms`));
          }, timeoutMs);
          const on = (m: WorkerEvent) => {
            if (m.ev !== ev) return;
            clearTimeout(timer);
            w.process.off('message', on);
            resolve(m as Extract<WorkerEvent, { ev: E }>);
          };
          w.process.on('message', on);
        }),
    ),
  );
}

async function runSize(n: number, databaseUrl: string) {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-bench-mesh-'));
  const [port, meshPort] = [await freePort(), await freePort()];
  let cp = await startReplica(databaseUrl, dataDir, port, meshPort);
  const workers: ReturnType<typeof children.fork>[] = [];
  try {
    const reg = await api(port, 'POST', '/api/v1/servers', {
      name: SERVER,
      kind: 'http',
      url: 'http://127.0.0.1:9/mcp',
      resourceUri: 'https://bench.mcp.test/mcp',
      grants: { users: ['u0@example.com'] },
    });
    // 409: registered by the run of a smaller N on the same database.
    if (reg.status !== 201 && reg.status !== 409)
      throw new Error(`register: ${reg.status} ${await reg.text()}`);
    const token = (
      (await (await api(port, 'POST', '/api/v1/mesh/tokens', { server: SERVER })).json()) as {
        token: string;
      }
    ).token;

    // 1. N proxies, split over the workers.
    const connectStart = wall();
    for (let w = 0; w < WORKERS; w++) {
      const worker = children.fork(`proxies-${w}`, join(import.meta.dirname, 'sim-proxies.ts'));
      workers.push(worker);
      const ids = Array.from({ length: n }, (_, i) => `sim-${i}`).filter((_, i) => i % WORKERS === w);
      worker.process.send({
        cmd: 'start',
        meshUrl: `http://127.0.0.1:${meshPort}`,
        token,
        server: SERVER,
        ids,
      } satisfies WorkerCommand);
    }
    await fromAll(workers, 'synced', 300_000);
    const connectAllMs = wall() - connectStart;
    await sleep(1_000); // let the connection burst settle before measuring

    // 2. One change that affects every proxy.
    for (const w of workers) w.process.send({ cmd: 'arm' } satisfies WorkerCommand);
    await fromAll(workers, 'ok', 10_000);
    const cpu0 = cpuSeconds(cp.pid);
    const acked = fromAll(workers, 'acked', 120_000);
    const t0 = wall();
    const put = await api(port, 'PUT', `/api/v1/servers/${SERVER}/grants`, { users: [`u${n}@example.com`] });
    if (put.status !== 200) throw new Error(`grant change: ${put.status} ${await put.text()}`);
    const ackTimes = (await acked)
      .flatMap((e) => e.times)
      .map((t) => t - t0)
      .sort((a, b) => a - b);
    const cpuChange = cpuSeconds(cp.pid) - cpu0;
    await sleep(500);
    const afterChange = memory(cp.pid);
    // Steady state: 2000 connected proxies and nothing happening. V8 returns the pages of the push
    // burst's garbage only after it has been idle a few seconds (its memory reducer), so RSS right
    // after a change (reported too) overstates what holding the streams costs.
    await sleep(SETTLE_MS);
    const mem = memory(cp.pid);

    // 3. Replica restart: SIGKILL, start again on the same ports, time until all are resynced.
    for (const w of workers) w.process.send({ cmd: 'rearm' } satisfies WorkerCommand);
    await fromAll(workers, 'ok', 10_000);
    const resynced = fromAll(workers, 'resynced', 300_000);
    cp.process.kill('SIGKILL');
    await cp.exited;
    const killedAt = wall();
    cp = await startReplica(databaseUrl, dataDir, port, meshPort);
    const readyAt = wall();
    const cpu1 = cpuSeconds(cp.pid);
    const re = await resynced;
    const reTimes = re.flatMap((e) => e.times).sort((a, b) => a - b);
    const cpuReconnect = cpuSeconds(cp.pid) - cpu1;
    const refused = re.reduce((s, e) => s + e.refused, 0);
    return {
      proxies: n,
      connect_all_ms: round(connectAllMs),
      ack_p50_ms: round(percentile(ackTimes, 50)),
      ack_p99_ms: round(percentile(ackTimes, 99)),
      ack_p100_ms: round(percentile(ackTimes, 100)),
      cp_cpu_s_change: round(cpuChange * 100) / 100,
      cp_rss_mb: mem.rss_total_mb,
      cp_rss_anon_mb: mem.rss_anon_mb,
      cp_rss_peak_mb: mem.rss_peak_mb,
      cp_rss_after_change_mb: afterChange.rss_total_mb,
      reconnect_all_ms: round(reTimes[reTimes.length - 1]! - readyAt),
      reconnect_p50_ms: round(percentile(reTimes, 50) - readyAt),
      reconnect_from_kill_ms: round(reTimes[reTimes.length - 1]! - killedAt),
      reconnect_refused_streams: refused,
      cp_cpu_s_reconnect: round(cpuReconnect * 100) / 100,
    };
  } finally {
    for (const w of workers) w.process.send({ cmd: 'stop' } satisfies WorkerCommand);
    await Promise.all(workers.map((w) => w.exited));
    await cp.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

let stopDb: (() => Promise<void>) | undefined;

async function main() {
  const pgDir = await mkdtemp(join(tmpdir(), 'tessera-bench-mesh-pg-'));
  const db = await startEmbeddedDb({ dataDir: pgDir, port: await freePort(), log: () => {} });
  stopDb = async () => {
    await db.stop();
    await rm(pgDir, { recursive: true, force: true });
  };
  const load = loadavg();
  const runs = [];
  try {
    for (const n of sizes) {
      process.stderr.write(`bench:mesh N=${n} …\n`);
      const r = await runSize(n, db.url);
      process.stderr.write(`${JSON.stringify(r)}\n`);
      runs.push(r);
    }
  } finally {
    await children.stopAll();
    await stopDb();
  }
  const at2000 = runs.find((r) => r.proxies === 2000) ?? runs[runs.length - 1]!;
  const result = {
    measured_at: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpu_model: cpus()[0]?.model ?? '',
      node: process.version,
      loadavg_at_start: load.map((l) => round(l)),
    },
    method:
      'N simulated proxies (real StreamResources protocol, generated Connect client, 250 streams per HTTP/2 connection, 2 worker processes) against one control-plane replica process; one grant change affecting all; times from the change request (debounce included) to the ACK of the new ServerPolicy; reconnect: SIGKILL and restart of the replica, time from the new replica being ready until every proxy holds all four types on a new stream (new-stream limiter at its defaults).',
    summary: {
      proxies: at2000.proxies,
      ack_p50_ms: at2000.ack_p50_ms,
      ack_p99_ms: at2000.ack_p99_ms,
      ack_p100_ms: at2000.ack_p100_ms,
      cp_rss_mb: at2000.cp_rss_mb,
      reconnect_all_ms: at2000.reconnect_all_ms,
    },
    runs,
  };
  await writeFile(join(repoRoot, 'bench', 'results', 'mesh.json'), `${JSON.stringify(result, null, 2)}\n`);
  const rows = runs.map(
    (r) =>
      `| ${r.proxies} | ${r.ack_p50_ms} / ${r.ack_p99_ms} / ${r.ack_p100_ms} | ${r.cp_cpu_s_change} | ${r.cp_rss_mb} (${r.cp_rss_anon_mb} anon) | ${r.connect_all_ms} | ${r.reconnect_all_ms} (${r.reconnect_refused_streams} refused) |`,
  );
  process.stdout.write(
    [
      '| Proxies | Change → ACKed p50 / p99 / p100 (ms) | CP CPU for the change (s) | CP RSS (MB) | Initial connect, all (ms) | Reconnect after restart, all (ms) |',
      '| --- | --- | --- | --- | --- | --- |',
      ...rows,
      '',
    ].join('\n'),
  );
}

let interrupted = false;
process.on('SIGINT', () => {
  if (interrupted) return;
  interrupted = true;
  void children
    .stopAll()
    .then(() => stopDb?.())
    .finally(() => process.exit(130));
});
await main();
