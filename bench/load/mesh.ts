/**
 * The real mesh the benchmark measures: the fixture MCP server, `tessera start` (control plane,
 * embedded PostgreSQL) in its own data directory on free ports, the fixture registered through the
 * admin API with a grant, a minted access token, and a sidecar proxy process configured over the mesh
 * stream, so that authentication, the grant policy and audit shipping are all on. The context runs
 * use the same pieces: the SDK server registered as a second server with its own proxy, and the
 * reference forwarder started like a proxy.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort } from '../../control-plane/test/helpers/free-port.ts';
import type { Child, Children } from './children.ts';
import { TEXT_1K, toolsCallBody } from './payload.ts';

export { freePort };

const repoRoot = join(import.meta.dirname, '..', '..');
const tesseraCli = join(repoRoot, 'control-plane', 'src', 'cli', 'tessera.ts');
export const defaultProxyMain = join(repoRoot, 'proxy', 'src', 'main.ts');

export const BENCH_SERVER = 'bench';
/** The server name of the MCP server built with the official SDK. */
export const BENCH_SDK_SERVER = 'bench-sdk';
export const BENCH_USER = 'bench@example.com';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts an MCP server of this folder (its own process) and waits for its port. */
async function startMcpServer(
  children: Children,
  name: string,
  module: string,
): Promise<{ child: Child; url: string }> {
  const child = children.fork(name, join(import.meta.dirname, module));
  const port = await new Promise<number>((ok, fail) => {
    child.process.once('message', (m: { port: number }) => ok(m.port));
    child.process.once('exit', () => fail(new Error(`${name} exited:\n${child.output()}`)));
  });
  return { child, url: `http://127.0.0.1:${port}/mcp` };
}

/** Starts the fixture server (`fixture-server.ts`). */
export function startFixture(children: Children): Promise<{ child: Child; url: string }> {
  return startMcpServer(children, 'fixture', 'fixture-server.ts');
}

/** Starts the MCP server built with the official SDK (`sdk-server.ts`). */
export function startSdkServer(children: Children): Promise<{ child: Child; url: string }> {
  return startMcpServer(children, 'SDK server', 'sdk-server.ts');
}

export interface ControlPlane {
  child: Child;
  apiUrl: string;
  meshUrl: string;
  pgPort: number;
  /** POSTs JSON to the admin API; throws unless the status is 2xx. */
  post<T>(path: string, body: unknown): Promise<T>;
}

export async function startControlPlane(children: Children, dataDir: string): Promise<ControlPlane> {
  const [port, meshPort, pgPort] = [await freePort(), await freePort(), await freePort()];
  const child = children.spawn('control plane', [tesseraCli, 'start'], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? dataDir,
      TESSERA_DATA_DIR: dataDir,
      TESSERA_PORT: String(port),
      TESSERA_MESH_PORT: String(meshPort),
      TESSERA_EMBEDDED_PG_PORT: String(pgPort),
      TESSERA_DEMO_SERVER: 'false',
      TESSERA_LOCAL_PROXIES: 'false',
      TESSERA_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    // Enough for it to drain and stop PostgreSQL.
    graceMs: 30_000,
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`control plane not ready in 120 s:\n${child.output()}`)),
      120_000,
    );
    let out = '';
    child.process.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Tessera is running.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void child.exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`control plane exited with ${code}:\n${child.output()}`));
    });
  });
  const adminToken = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
  const apiUrl = `http://127.0.0.1:${port}`;
  return {
    child,
    apiUrl,
    meshUrl: `http://127.0.0.1:${meshPort}`,
    pgPort,
    async post<T>(path: string, body: unknown): Promise<T> {
      const res = await fetch(`${apiUrl}${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`POST ${path} answered ${res.status}: ${text}`);
      return JSON.parse(text) as T;
    },
  };
}

/** Registers an upstream as server `name`, granted to the bench user, and mints that user a token for it. */
export async function registerServer(
  cp: ControlPlane,
  name: string,
  upstreamUrl: string,
  proxyUrl: string,
): Promise<string> {
  await cp.post('/api/v1/servers', {
    name,
    kind: 'http',
    url: upstreamUrl,
    resourceUri: proxyUrl,
    grants: { users: [BENCH_USER] },
  });
  const { access_token } = await cp.post<{ access_token: string }>('/api/v1/tokens', {
    user: BENCH_USER,
    server: name,
  });
  return access_token;
}

export interface ProxyOptions {
  cp: ControlPlane;
  /** The registered server the proxy fronts. */
  server: string;
  main: string;
  port: number;
  upstreamUrl: string;
  spoolDir: string;
  /** The proxy's last-good snapshot: per run, so a snapshot from an earlier run (signed by another
   * control plane's key) is never restored. */
  snapshotDir: string;
  /** Node's compile cache, warmed before the proxy starts (as the proxy image ships it); undefined: none. */
  compileCache?: string;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs: string[];
  /** Extra environment, e.g. a glibc malloc tuning. */
  env?: Record<string, string>;
}

/** Starts the sidecar proxy and waits until `/readyz` says its configuration is complete. */
export async function startProxy(children: Children, options: ProxyOptions): Promise<Child> {
  const child = children.spawn(`proxy (${options.server})`, [...options.nodeArgs, options.main], {
    env: {
      PATH: process.env.PATH ?? '',
      TESSERA_PROXY_MODE: 'sidecar',
      TESSERA_PROXY_SERVER: options.server,
      TESSERA_PROXY_NODE_ID: `${options.server}-proxy`,
      TESSERA_PROXY_LISTEN: `127.0.0.1:${options.port}`,
      TESSERA_PROXY_UPSTREAM_URL: options.upstreamUrl,
      TESSERA_PROXY_AUDIT_SPOOL_DIR: options.spoolDir,
      TESSERA_PROXY_SNAPSHOT_DIR: options.snapshotDir,
      TESSERA_CONTROL_PLANE_URL: options.cp.meshUrl,
      // The bench server's own mesh token, as an operator starting a proxy would get it.
      TESSERA_MESH_TOKEN: (
        await options.cp.post<{ token: string }>('/api/v1/mesh/tokens', { server: options.server })
      ).token,
      TESSERA_LOG_LEVEL: 'warn',
      // Lets a run try Node's compile cache (which also skips TypeScript stripping on later starts).
      ...(options.compileCache ? { NODE_COMPILE_CACHE: options.compileCache } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
    graceMs: 15_000,
  });
  return waitReady(child, options.port);
}

export interface ForwarderOptions {
  main: string;
  port: number;
  upstreamUrl: string;
  /** Node's compile cache, warmed for the forwarder; undefined: none. */
  compileCache?: string;
  /** The proxy's node flags, so that both run under the same garbage collector settings. */
  nodeArgs: string[];
  /** The proxy's extra environment, for the same reason. */
  env?: Record<string, string>;
}

/** Starts the reference forwarder with the proxy's listener settings and waits for `/readyz`. */
export function startReferenceForwarder(children: Children, options: ForwarderOptions): Promise<Child> {
  const child = children.spawn('reference forwarder', [...options.nodeArgs, options.main], {
    env: {
      PATH: process.env.PATH ?? '',
      TESSERA_PROXY_LISTEN: `127.0.0.1:${options.port}`,
      TESSERA_PROXY_UPSTREAM_URL: options.upstreamUrl,
      ...(options.compileCache ? { NODE_COMPILE_CACHE: options.compileCache } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  return waitReady(child, options.port);
}

/** Polls `/readyz` on `port` until it answers 200 (30 s at most). */
async function waitReady(child: Child, port: number): Promise<Child> {
  const readyz = `http://127.0.0.1:${port}/readyz`;
  for (let i = 0; i < 300; i++) {
    if (child.process.exitCode !== null) throw new Error(`the ${child.name} exited:\n${child.output()}`);
    try {
      if ((await fetch(readyz, { signal: AbortSignal.timeout(1_000) })).status === 200) return child;
    } catch {
      // Not listening yet.
    }
    await sleep(100);
  }
  throw new Error(`the ${child.name} was not ready in 30 s:\n${child.output()}`);
}

/** One `tools/call` through `url`, checked whole (status and content) before any load. */
export async function preflight(url: string, token: string | undefined): Promise<void> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: toolsCallBody(0),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let content: string | undefined;
  try {
    content = (JSON.parse(text) as { result?: { content?: { text?: string }[] } }).result?.content?.[0]?.text;
  } catch {
    // Reported below.
  }
  if (res.status !== 200 || content !== TEXT_1K) {
    throw new Error(`preflight ${url} answered ${res.status}: ${text.slice(0, 500)}`);
  }
}
