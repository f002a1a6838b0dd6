/**
 * The audit guarantee, proven with real processes: the control plane is SIGKILLed under load and
 * restarted, then the proxy is SIGKILLed with events it could not ship yet; in the end every
 * answered request has exactly one audit row in Postgres.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { freePort } from './helpers/free-port.ts';

const cli = join(import.meta.dirname, '..', 'src', 'cli', 'tessera.ts');
const proxyMain = fileURLToPath(import.meta.resolve('@tessera/proxy/main'));

let dataDir: string;
let cpEnv: Record<string, string>;
let proxyEnv: Record<string, string>;
let cp: ChildProcess | undefined;
let proxy: ChildProcess | undefined;
let upstream: Server;
let mcpUrl: string;
let token: string;
let nextId = 1;

function spawnCp(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [cli, 'start'], { env: cpEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Tessera is running.')) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`control plane exited ${code}: ${err}`)));
  });
}

async function spawnProxy(extraEnv: Record<string, string> = {}): Promise<ChildProcess> {
  const child = spawn(process.execPath, [proxyMain], {
    env: { ...proxyEnv, ...extraEnv },
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${mcpUrl.replace('/mcp', '')}/readyz`)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the proxy never became ready');
}

/** The proxy's audit metrics, from its `/metrics`. */
async function auditMetrics(): Promise<Record<string, number>> {
  const text = await (await fetch(`${mcpUrl.replace('/mcp', '')}/metrics`)).text();
  const values: Record<string, number> = {};
  for (const [, name, value] of text.matchAll(/^(tessera_proxy_audit_\S+) (\S+)$/gm))
    values[name!] = Number(value);
  return values;
}

function kill9(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGKILL');
  return exited;
}

/** Sends `n` tools/call requests, 8 at a time; resolves with the ids that were answered 200. */
async function load(n: number, onProgress?: (done: number) => void): Promise<number[]> {
  const answered: number[] = [];
  let sent = 0;
  let done = 0;
  async function worker() {
    while (sent < n) {
      const id = nextId++;
      sent++;
      try {
        const res = await fetch(mcpUrl, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json',
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id,
            method: 'tools/call',
            params: { name: 'echo', arguments: { i: id } },
          }),
        });
        await res.text();
        if (res.status === 200) answered.push(id);
      } catch {
        // A request cut by a kill is not covered by the guarantee.
      }
      onProgress?.(++done);
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
  return answered;
}

async function auditedIds(): Promise<number[]> {
  const password = (await readFile(join(dataDir, 'postgres-password'), 'utf8')).trim();
  const db = new pg.Client({
    connectionString: `postgres://tessera:${password}@127.0.0.1:${cpEnv.TESSERA_EMBEDDED_PG_PORT}/tessera`,
  });
  await db.connect();
  try {
    const { rows } = await db.query<{ request_id: string }>(
      "SELECT request_id FROM audit_events WHERE server = 'durable' AND method = 'tools/call'",
    );
    return rows.map((r) => Number(r.request_id));
  } finally {
    await db.end();
  }
}

async function waitForAudit(expected: number[]): Promise<number[]> {
  let ids: number[] = [];
  for (let i = 0; i < 600; i++) {
    ids = await auditedIds();
    if (expected.every((id) => ids.includes(id))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return ids;
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'tessera-durability-'));
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const { id } = JSON.parse(body) as { id: number };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'ok' }] } }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const [pgPort, port, meshPort, proxyPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  cpEnv = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    TESSERA_DATA_DIR: dataDir,
    TESSERA_EMBEDDED_PG_PORT: String(pgPort),
    TESSERA_PORT: String(port),
    TESSERA_MESH_PORT: String(meshPort),
    TESSERA_LOCAL_PROXIES: 'false',
    TESSERA_DEMO_SERVER: 'false',
    TESSERA_AUDIT_FLUSH_INTERVAL_MS: '50',
    TESSERA_AUDIT_BATCH_MAX_EVENTS: '50',
    TESSERA_LOG_LEVEL: 'warn',
  };
  cp = await spawnCp();
  mcpUrl = `http://127.0.0.1:${proxyPort}/mcp`;
  const admin = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
  const api = (path: string, body: unknown) =>
    fetch(`http://127.0.0.1:${port}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const reg = await api('/api/v1/servers', {
    name: 'durable',
    kind: 'http',
    url: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`,
    resourceUri: mcpUrl,
    grants: { users: ['auditor@example.com'] },
  });
  assert.equal(reg.status, 201, await reg.text());
  token = (
    (await (await api('/api/v1/tokens', { user: 'auditor@example.com', server: 'durable' })).json()) as {
      access_token: string;
    }
  ).access_token;
  proxyEnv = {
    PATH: process.env.PATH ?? '',
    TESSERA_PROXY_MODE: 'sidecar',
    TESSERA_PROXY_SERVER: 'durable',
    TESSERA_PROXY_NODE_ID: 'durable-1',
    TESSERA_PROXY_LISTEN: `127.0.0.1:${proxyPort}`,
    TESSERA_PROXY_UPSTREAM_URL: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`,
    TESSERA_PROXY_AUDIT_SPOOL_DIR: join(dataDir, 'proxy-spool'),
    TESSERA_PROXY_SNAPSHOT_DIR: join(dataDir, 'proxy-snapshot'),
    TESSERA_CONTROL_PLANE_URL: `http://127.0.0.1:${meshPort}`,
    TESSERA_MESH_TOKEN: (
      (await (await api('/api/v1/mesh/tokens', { server: 'durable' })).json()) as { token: string }
    ).token,
    TESSERA_LOG_LEVEL: 'warn',
  };
  proxy = await spawnProxy();
});

after(async () => {
  await kill9(proxy);
  if (cp && cp.exitCode === null) {
    const exited = new Promise<void>((r) => cp!.once('exit', () => r()));
    cp.kill('SIGTERM');
    await exited;
  }
  upstream.close();
  await rm(dataDir, { recursive: true, force: true });
});

const answeredSoFar: number[] = [];

test('SIGKILL of the control plane under load: every event is stored exactly once after its restart', async () => {
  let killed: Promise<void> | undefined;
  const answered = await load(400, (done) => {
    if (done === 100) killed = kill9(cp);
  });
  await killed;
  answeredSoFar.push(...answered);
  assert.ok(
    answered.length >= 390,
    `the proxy kept serving while the control plane was down (${answered.length}/400)`,
  );
  cp = await spawnCp();
  const ids = await waitForAudit(answeredSoFar);
  const missing = answeredSoFar.filter((id) => !ids.includes(id));
  assert.deepEqual(missing, [], 'every answered request is audited');
  assert.equal(new Set(ids).size, ids.length, 'no event is stored twice');
});

test('SIGKILL of the proxy with unshipped events: nothing is lost, and it restarts from its snapshot', async () => {
  // 1. Take the control plane away so that the proxy can only spool.
  await kill9(cp);
  const answered = await load(150);
  assert.equal(answered.length, 150);
  answeredSoFar.push(...answered);
  assert.ok(
    (await auditMetrics()).tessera_proxy_audit_pending_events! >= 150,
    'the backlog shows in the proxy’s metrics',
  );
  // 2. Kill the proxy while the events are still on its disk only.
  await kill9(proxy);
  // 3. Restart the proxy while the control plane is still away: its persisted snapshot makes it
  //    ready and enforcing at once (a token it never saw is verified with the saved keys). It now
  //    flushes every answer's event to disk first, which changes none of the above.
  proxy = await spawnProxy({ TESSERA_PROXY_AUDIT_DURABILITY: 'disk' });
  const served = await load(20);
  assert.equal(served.length, 20, 'the restarted proxy serves from its last good configuration');
  answeredSoFar.push(...served);
  // 4. Bring the control plane back; the proxy ships what it and its predecessor spooled.
  cp = await spawnCp();
  const ids = await waitForAudit(answeredSoFar);
  const missing = answeredSoFar.filter((id) => !ids.includes(id));
  assert.deepEqual(missing, [], 'every answered request is audited');
  assert.equal(new Set(ids).size, ids.length, 'no event is stored twice');
  // The rows are committed before the proxy reads its acknowledgement.
  let metrics = await auditMetrics();
  for (let i = 0; i < 100 && metrics.tessera_proxy_audit_pending_events !== 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    metrics = await auditMetrics();
  }
  assert.equal(metrics.tessera_proxy_audit_pending_events, 0);
  assert.ok(metrics.tessera_proxy_audit_shipped_events_total! >= 170, 'its own 20 and its predecessor’s 150');
  assert.equal(metrics['tessera_proxy_audit_dropped_events_total{reason="spool_full"}'], 0);
  assert.ok(metrics.tessera_proxy_audit_flush_duration_seconds_count! > 0, 'answers waited for flushes');
});
