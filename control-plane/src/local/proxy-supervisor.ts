/**
 * Local mode: runs one proxy process per registered server that has a local port, the way the
 * Kubernetes controller runs one per pod: a stdio proxy for a command, a sidecar for a plain-http
 * server (Streamable HTTP, or HTTP+SSE for kind `sse`), an egress proxy for an https one (a remote
 * server: TLS verified, the SSRF guard, each user's upstream credential from the control plane).
 * Restarts a proxy that dies, with backoff; forwards its logs; stops them all on close (SIGTERM, then
 * SIGKILL).
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { McpServerRow } from '../db/entities/mcp-server.ts';
import { proxyMeshToken } from '../mesh/mesh-auth.ts';

/**
 * V8 grows the young generation to 16 MB semi-spaces under load; a sidecar runs beside every server,
 * so it trades GC work for memory. 1 MB semi-spaces: about 1.2 MB less private memory at 1000 req/s
 * than 2 MB, for a few per cent more CPU (see the README's benchmark notes).
 */
export const PROXY_NODE_FLAGS = ['--max-semi-space-size=1'];

/**
 * glibc keeps the memory V8's background compiler frees in its worker threads' arenas, so a proxy's
 * private memory stays at its compile peak (10–17 MB more). Serving every block of 8 KiB and up with
 * its own mapping hands it back, for some CPU while the compiler warms up and a little at 1000 req/s;
 * the README's benchmark notes have the figures. The proxy image sets the same.
 */
export const PROXY_ENV: Readonly<Record<string, string>> = { MALLOC_MMAP_THRESHOLD_: '8192' };

export interface ProxySupervisorOptions {
  meshUrl: string;
  meshToken: string;
  logLevel: string;
  /**
   * Where each local proxy keeps its last-good snapshot and its audit spool (`<stateDir>/<server>/`):
   * under the control plane's data directory, so that one installation's proxies never restore another's
   * configuration or ship another's audit events.
   */
  stateDir: string;
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Extra environment for every proxy (tests). */
  env?: Record<string, string>;
}

export interface ProxySupervisor {
  /** Starts proxies for servers that have none yet. */
  ensure(servers: McpServerRow[]): void;
  close(): Promise<void>;
}

interface Managed {
  server: McpServerRow;
  child: ChildProcess | undefined;
  restarts: number;
  timer: NodeJS.Timeout | undefined;
}

/** The proxy mode a registered server needs: https is a remote server, reached through egress. */
export function proxyMode(server: Pick<McpServerRow, 'kind' | 'url'>): 'stdio' | 'sidecar' | 'egress' {
  if (server.kind === 'stdio') return 'stdio';
  return server.url?.startsWith('https:') ? 'egress' : 'sidecar';
}

/**
 * The egress proxy settings of the control plane's own environment (`TESSERA_PROXY_EGRESS_*`: the
 * SSRF allow-list, an extra CA, limits) and `TESSERA_PROXY_CREDENTIAL_TTL_S`, which local egress
 * proxies take as the operator set them; a local proxy otherwise inherits nothing. Pure.
 */
export function egressSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (name.startsWith('TESSERA_PROXY_EGRESS_') || name === 'TESSERA_PROXY_CREDENTIAL_TTL_S')
      out[name] = value;
  }
  return out;
}

/**
 * The audit durability of the control plane's own environment (`TESSERA_PROXY_AUDIT_DURABILITY`),
 * which every local proxy takes: one machine, one choice. Pure.
 */
export function auditSettings(env: NodeJS.ProcessEnv): Record<string, string> {
  const durability = env.TESSERA_PROXY_AUDIT_DURABILITY;
  return durability ? { TESSERA_PROXY_AUDIT_DURABILITY: durability } : {};
}

export function proxyEnv(server: McpServerRow, o: ProxySupervisorOptions): Record<string, string> {
  const env: Record<string, string> = {
    TESSERA_PROXY_MODE: proxyMode(server),
    TESSERA_PROXY_SERVER: server.name,
    TESSERA_PROXY_NODE_ID: `local-${server.name}`,
    TESSERA_PROXY_LISTEN: `127.0.0.1:${server.localPort}`,
    TESSERA_CONTROL_PLANE_URL: o.meshUrl,
    // Each proxy gets a token bound to its own server, never the mesh secret itself.
    TESSERA_MESH_TOKEN: proxyMeshToken(o.meshToken, server.name),
    TESSERA_LOG_LEVEL: o.logLevel,
    TESSERA_PROXY_SNAPSHOT_DIR: join(o.stateDir, server.name, 'snapshot'),
    TESSERA_PROXY_AUDIT_SPOOL_DIR: join(o.stateDir, server.name, 'audit-spool'),
  };
  if (server.kind === 'stdio') {
    env.TESSERA_PROXY_STDIO_COMMAND = server.command!;
    env.TESSERA_PROXY_STDIO_ARGS = JSON.stringify(server.args);
  } else {
    env.TESSERA_PROXY_UPSTREAM_URL = server.url!;
    if (server.kind === 'sse') env.TESSERA_PROXY_UPSTREAM_TRANSPORT = 'sse';
  }
  return env;
}

export function createProxySupervisor(options: ProxySupervisorOptions): ProxySupervisor {
  const proxyMain = fileURLToPath(import.meta.resolve('@tessera/proxy/main'));
  const managed = new Map<string, Managed>();
  let closing = false;

  function start(m: Managed): void {
    const { PATH, HOME, LANG, TZ } = process.env;
    const base = Object.fromEntries(
      Object.entries({ PATH, HOME, LANG, TZ }).filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
    const egress = proxyMode(m.server) === 'egress' ? egressSettings(process.env) : {};
    const child = spawn(process.execPath, [...PROXY_NODE_FLAGS, proxyMain], {
      env: {
        ...base,
        ...PROXY_ENV,
        ...egress,
        ...auditSettings(process.env),
        ...options.env,
        ...proxyEnv(m.server, options),
      },
      stdio: ['ignore', 'inherit', 'pipe'],
    });
    m.child = child;
    createInterface({ input: child.stderr! }).on('line', (line) => process.stderr.write(`${line}\n`));
    child.on('exit', (code, signal) => {
      m.child = undefined;
      if (closing) return;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(m.restarts++, 6));
      options.log('error', 'proxy exited; restarting', { server: m.server.name, code, signal, inMs: delay });
      m.timer = setTimeout(() => start(m), delay);
    });
  }

  return {
    ensure(servers) {
      for (const server of servers) {
        if (closing || server.localPort === null || managed.has(server.name)) continue;
        const m: Managed = { server, child: undefined, restarts: 0, timer: undefined };
        managed.set(server.name, m);
        start(m);
        options.log('info', 'started local proxy', { server: server.name, port: server.localPort });
      }
    },
    async close() {
      closing = true;
      await Promise.all(
        [...managed.values()].map(async (m) => {
          if (m.timer) clearTimeout(m.timer);
          const child = m.child;
          if (!child || child.exitCode !== null) return;
          const exited = new Promise<void>((r) => child.once('exit', () => r()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
          await exited;
          clearTimeout(timer);
        }),
      );
    },
  };
}
