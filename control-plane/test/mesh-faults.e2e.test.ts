/**
 * Mesh faults with real processes: three control-plane replicas on one PostgreSQL, two proxies that
 * know every replica's address, the real MCP server-everything behind them, and the MCP SDK client.
 *
 *   - SIGKILL of the replica a proxy is connected to, while MCP calls run through that proxy: no call
 *     fails (the proxy serves from its local configuration), the proxy moves to another replica and
 *     resyncs, and the status (read from any replica) shows it.
 *   - A NACK sent to one replica shows, with its error, in the status read from another.
 *   - PostgreSQL stopped and started under running replicas: they recover on their own, and a later
 *     change still reaches the proxies.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type EmbeddedDb, startEmbeddedDb } from '../src/db/embedded-db.ts';
import type { ProxyStatus } from '../src/mesh/config-hub.ts';
import { freePort } from './helpers/free-port.ts';
import { openStream, TYPE_URLS } from './helpers/mesh-client.ts';
import { type ReplicaProcess, startReplicaProcess } from './helpers/replica-process.ts';

const proxyMain = fileURLToPath(import.meta.resolve('@tessera/proxy/main'));
const everything = fileURLToPath(
  import.meta.resolve('@modelcontextprotocol/server-everything/dist/index.js'),
);
const SERVER = 'faulty';
const USER = 'ops@example.com';

let dir: string;
/** Its own temporary directory: as root, PostgreSQL runs as another user that must traverse it. */
let pgDir: string;
let pgPort: number;
let db: EmbeddedDb;
const replicas: ReplicaProcess[] = [];
let upstream: ChildProcess;
const proxies: Array<{ child: ChildProcess; nodeId: string; mcpUrl: string }> = [];
let accessToken: string;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

function alive(): ReplicaProcess[] {
  return replicas.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
}

interface MeshStatus {
  replica: string;
  proxies: ProxyStatus[];
  partial: boolean;
}

async function status(via: ReplicaProcess): Promise<MeshStatus> {
  const res = await via.api('GET', '/api/v1/mesh/proxies');
  assert.equal(res.status, 200);
  return (await res.json()) as MeshStatus;
}

async function replicaId(via: ReplicaProcess): Promise<string> {
  return (await status(via)).replica;
}

/** The proxy's status once every type is SYNCED (and, when given, the policy is at that version). */
async function synced(via: ReplicaProcess, nodeId: string, policyVersion?: string): Promise<ProxyStatus> {
  return until(`${nodeId} synced`, async () => {
    const p = (await status(via)).proxies.find((x) => x.nodeId === nodeId);
    if (p?.types.length !== 4 || !p.types.every((t) => t.state === 'SYNCED')) return undefined;
    const policy = p.types.find((t) => t.typeUrl.endsWith('ServerPolicy'))!;
    if (policyVersion && policy.ackedVersion !== policyVersion) return undefined;
    return p;
  });
}

async function startProxy(nodeId: string, order: number[]): Promise<void> {
  const port = await freePort();
  const mesh = (
    (await (await replicas[0]!.api('POST', '/api/v1/mesh/tokens', { server: SERVER })).json()) as {
      token: string;
    }
  ).token;
  const child = spawn(process.execPath, [proxyMain], {
    env: {
      PATH: process.env.PATH ?? '',
      TESSERA_PROXY_SERVER: SERVER,
      TESSERA_PROXY_NODE_ID: nodeId,
      TESSERA_PROXY_LISTEN: `127.0.0.1:${port}`,
      TESSERA_PROXY_UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}/mcp`,
      TESSERA_PROXY_SNAPSHOT_DIR: join(dir, nodeId, 'snapshot'),
      TESSERA_PROXY_AUDIT_SPOOL_DIR: join(dir, nodeId, 'spool'),
      TESSERA_CONTROL_PLANE_URL: order.map((i) => replicas[i]!.meshUrl).join(','),
      TESSERA_MESH_TOKEN: mesh,
      TESSERA_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  proxies.push({ child, nodeId, mcpUrl: `http://127.0.0.1:${port}/mcp` });
  await until(`${nodeId} ready`, async () =>
    (await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined,
  );
}

let upstreamPort: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-faults-'));
  pgDir = await mkdtemp(join(tmpdir(), 'tessera-faults-pg-'));
  pgPort = await freePort();
  db = await startEmbeddedDb({ dataDir: pgDir, port: pgPort, log: () => {} });
  // Started one after the other: the first runs the migrations.
  for (let i = 0; i < 3; i++) {
    replicas.push(await startReplicaProcess(db.url, { TESSERA_MESH_STATUS_INTERVAL_MS: '200' }));
  }
  upstreamPort = await freePort();
  upstream = spawn(process.execPath, [everything, 'streamableHttp'], {
    env: { PATH: process.env.PATH ?? '', PORT: String(upstreamPort) },
    stdio: 'ignore',
  });
  await until('server-everything listening', async () => {
    await fetch(`http://127.0.0.1:${upstreamPort}/mcp`, { method: 'GET' });
    return true;
  });
  const reg = await replicas[0]!.api('POST', '/api/v1/servers', {
    name: SERVER,
    kind: 'http',
    url: `http://127.0.0.1:${upstreamPort}/mcp`,
    // The audience of access tokens; both proxies front this one server.
    resourceUri: 'https://faulty.mcp.test/mcp',
    grants: { users: [USER] },
  });
  assert.equal(reg.status, 201, await reg.text());
  await startProxy('proxy-a', [0, 1, 2]);
  await startProxy('proxy-b', [1, 2, 0]);
  accessToken = (
    (await (await replicas[0]!.api('POST', '/api/v1/tokens', { user: USER, server: SERVER })).json()) as {
      access_token: string;
    }
  ).access_token;
});

after(async () => {
  for (const p of proxies) p.child.kill('SIGKILL');
  upstream?.kill('SIGKILL');
  for (const r of replicas) await r.stop();
  await db?.stop();
  await rm(dir, { recursive: true, force: true });
  await rm(pgDir, { recursive: true, force: true });
});

/** An MCP client through a proxy; `echo` in a loop until stopped; counts calls and failures. */
async function callLoop(mcpUrl: string) {
  const client = new Client({ name: 'faults', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(mcpUrl), {
      requestInit: { headers: { authorization: `Bearer ${accessToken}` } },
    }),
  );
  let running = true;
  let calls = 0;
  const failures: string[] = [];
  const loop = (async () => {
    while (running) {
      try {
        const r = await client.callTool({ name: 'echo', arguments: { message: `m${calls}` } });
        if (r.isError) failures.push(JSON.stringify(r.content));
      } catch (err) {
        failures.push((err as Error).message);
      }
      calls++;
    }
  })();
  return {
    calls: () => calls,
    async stop() {
      running = false;
      await loop;
      await client.close();
      return { calls, failures };
    },
  };
}

test('SIGKILL of the replica a proxy uses: no MCP call fails, the proxy resyncs from another replica', async () => {
  const initial = await synced(replicas[2]!, 'proxy-a');
  const victim = replicas[0]!;
  assert.equal(
    initial.controlPlaneId,
    await replicaId(victim),
    'proxy-a starts on the first address of its list',
  );
  const load = await callLoop(proxies[0]!.mcpUrl);
  await until('calls flowing', async () => (load.calls() >= 5 ? true : undefined));

  await victim.kill9();
  const survivor = alive()[0]!;
  const moved = await until('proxy-a on another replica', async () => {
    const p = (await status(survivor)).proxies.find((x) => x.nodeId === 'proxy-a');
    return p && p.controlPlaneId !== initial.controlPlaneId && p.types.every((t) => t.state === 'SYNCED')
      ? p
      : undefined;
  });
  await until('more calls after the move', async () => (load.calls() >= 20 ? true : undefined));
  const { calls, failures } = await load.stop();
  assert.deepEqual(failures, [], `every one of ${calls} calls succeeded`);
  assert.notEqual(moved.controlPlaneId, initial.controlPlaneId);

  // The dead replica's rows drop out of the status; a change reaches the moved proxy.
  await until('no rows of the dead replica', async () =>
    (await status(survivor)).proxies.some((p) => p.controlPlaneId === initial.controlPlaneId)
      ? undefined
      : true,
  );
  const put = await survivor.api('PUT', `/api/v1/servers/${SERVER}/grants`, {
    users: [USER, 'b@example.com'],
  });
  assert.equal(put.status, 200);
  const oldPolicy = initial.types.find((t) => t.typeUrl.endsWith('ServerPolicy'))!.ackedVersion;
  await until('proxy-a acks the new policy', async () => {
    const p = (await status(survivor)).proxies.find((x) => x.nodeId === 'proxy-a');
    const policy = p?.types.find((t) => t.typeUrl.endsWith('ServerPolicy'));
    return policy?.state === 'SYNCED' && policy.ackedVersion !== oldPolicy ? true : undefined;
  });
});

test('a NACK sent to one replica shows with its error in the status read through another', async () => {
  const [a, b] = alive();
  const mesh = (
    (await (await a!.api('POST', '/api/v1/mesh/tokens', { server: SERVER })).json()) as {
      token: string;
    }
  ).token;
  const s = openStream(a!.meshUrl, mesh);
  try {
    s.send({ node: { id: 'nacker', mcpServer: SERVER, role: 'sidecar' }, typeUrl: TYPE_URLS[2]! });
    const r = await s.next();
    s.send({
      typeUrl: r.typeUrl,
      versionInfo: '',
      responseNonce: r.nonce,
      errorDetail: { code: 3, message: 'grants[0]: unknown group syntax' },
    });
    const p = await until('the NACK in the other replica', async () =>
      (await status(b!)).proxies.find(
        (x) => x.nodeId === 'nacker' && x.types.some((t) => t.state === 'NACKED'),
      ),
    );
    const t = p.types.find((x) => x.state === 'NACKED')!;
    assert.equal(t.error, 'grants[0]: unknown group syntax');
    assert.equal(t.lastError, 'grants[0]: unknown group syntax');
    assert.equal(p.controlPlaneId, await replicaId(a!), 'reported as served by the replica it NACKed');
  } finally {
    s.close();
  }
});

test('PostgreSQL restarts under the replicas: they recover without a restart, and changes propagate again', async () => {
  const initial = await synced(alive()[0]!, 'proxy-b');
  const oldPolicy = initial.types.find((t) => t.typeUrl.endsWith('ServerPolicy'))!.ackedVersion;
  const load = await callLoop(proxies[1]!.mcpUrl);
  await db.stop();
  // While PostgreSQL is away, the status API still answers with the replica's own proxies.
  const partial = await status(alive()[0]!);
  assert.equal(partial.partial, true);
  db = await startEmbeddedDb({ dataDir: pgDir, port: pgPort, log: () => {} });
  const via = alive()[1]!;
  const put = await until('the admin API writes again', async () => {
    const res = await via.api('PUT', `/api/v1/servers/${SERVER}/grants`, { users: [USER, 'c@example.com'] });
    return res.status === 200 ? res : undefined;
  });
  assert.equal(put.status, 200);
  const updated = await until('proxy-b acks the new policy', async () => {
    const st = await status(alive()[0]!);
    const p = st.proxies.find((x) => x.nodeId === 'proxy-b');
    const policy = p?.types.find((t) => t.typeUrl.endsWith('ServerPolicy'));
    return !st.partial && policy?.state === 'SYNCED' && policy.ackedVersion !== oldPolicy ? p : undefined;
  });
  assert.ok(updated);
  const { calls, failures } = await load.stop();
  assert.deepEqual(failures, [], `every one of ${calls} calls succeeded while PostgreSQL restarted`);
  assert.equal(alive().length, 2, 'no replica died');
});
