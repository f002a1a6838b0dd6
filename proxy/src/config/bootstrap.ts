/**
 * The proxy's static configuration: everything it needs before the control plane speaks, read from
 * the environment and validated as a whole. How the MCP server is reached (URL or command) lives here,
 * never in pushed configuration, so nothing arriving over the network can make a proxy spawn a process.
 *
 * @module
 */
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AllowList, parseAllowList } from '../egress/ssrf-guard.ts';
import { FILTER_ALLOW } from '../filters/lazy-filter-dispatcher.ts';
import { hostName } from '../server/host-check.ts';
import { type EgressSettings, egressSettingsDoc, readEgressSettings } from './egress-settings.ts';

export type ProxyMode = 'sidecar' | 'stdio' | 'egress';

/** How a sidecar reaches its MCP server: Streamable HTTP, or the deprecated HTTP+SSE transport (2024-11-05). */
export type UpstreamTransport = 'streamable-http' | 'sse';

export interface Bootstrap {
  mode: ProxyMode;
  /** The logical MCP server this proxy fronts. */
  server: string;
  nodeId: string;
  listenHost: string;
  listenPort: number;
  /** Sidecar mode: the MCP server's Streamable HTTP endpoint, normally on localhost; egress: the remote https one. */
  upstreamUrl: URL | undefined;
  /** Sidecar and egress modes: the transport the MCP server speaks at `upstreamUrl` (for `sse`, its SSE URL). */
  upstreamTransport: UpstreamTransport;
  sseMaxSessions: number;
  sseIdleTimeoutMs: number;
  /** stdio and sse: requests of one session or warm channel waiting for an answer at once. */
  maxPendingRequests: number;
  /** stdio and sse: warm channels one principal's stateless requests may use. */
  statelessChannelsPerPrincipal: number;
  /** stdio mode: the command and its arguments, spawned without a shell. */
  stdioCommand: string | undefined;
  stdioArgs: string[];
  stdioMaxSessions: number;
  stdioIdleTimeoutMs: number;
  /** Egress mode only. */
  egress: EgressSettings | undefined;
  /** How many proxies serve this server: each enforces its share of every rate limit. */
  replicas: number;
  /** Exceptions to the SSRF guard for filter webhooks (every mode). */
  filterAllow: AllowList;
  /** The first control-plane address. */
  controlPlaneUrl: URL;
  /** Every control-plane address, in order of preference; the proxy fails over along this list. */
  controlPlaneUrls: URL[];
  /** The mesh token as read at start. */
  meshToken: string;
  /** Where the token lives when it comes from a file; re-read as it rotates (projected service-account tokens). */
  meshTokenFile: string | undefined;
  /** A stream that delivers nothing, not even a heartbeat, for this long is abandoned. */
  meshIdleTimeoutMs: number;
  maxBodyBytes: number;
  /** Most GET and listen streams one principal may hold open on this proxy at once. */
  maxStreamsPerPrincipal: number;
  /** Browser origins allowed on the MCP endpoint besides loopback and the resource URI's origin. */
  allowedOrigins: string[];
  /** On a loopback listener, host names allowed in `Host` besides loopback and the resource URI's host. */
  allowedHosts: string[];
  /** Where the last good configuration is kept across restarts. */
  snapshotDir: string;
  /** Where audit events wait until the control plane acknowledges them. */
  auditSpoolDir: string;
  auditSpoolMaxBytes: number;
  /**
   * What an answer a client has received guarantees about its audit event: `process`, in the kernel
   * (survives the proxy's crash); `disk`, on stable storage (survives the machine's), at the cost of
   * a grouped `fdatasync` before every answer.
   */
  auditDurability: 'process' | 'disk';
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** A setting of the proxy, as documented in the README. */
export const settings = {
  TESSERA_PROXY_MODE:
    'sidecar (forward to an HTTP MCP server), stdio (spawn children: one per session, warm ones for stateless requests) or egress (a remote https MCP server)',
  TESSERA_PROXY_SERVER: 'the logical server name this proxy fronts (required)',
  TESSERA_PROXY_NODE_ID: 'stable identity of this proxy instance (default: <hostname>-<pid>)',
  TESSERA_PROXY_LISTEN: 'host:port of the MCP listener (default 127.0.0.1:15001)',
  TESSERA_PROXY_UPSTREAM_URL: 'sidecar mode: the MCP server URL, e.g. http://127.0.0.1:8080/mcp',
  TESSERA_PROXY_UPSTREAM_TRANSPORT:
    'sidecar and egress modes: streamable-http (default) or sse (the deprecated HTTP+SSE transport; the URL is the SSE URL)',
  TESSERA_PROXY_SSE_MAX_SESSIONS: 'sse transport: most concurrent upstream SSE connections (default 32)',
  TESSERA_PROXY_SSE_IDLE_TIMEOUT_MS: 'sse transport: idle session lifetime (default 900000)',
  TESSERA_PROXY_MAX_PENDING_REQUESTS:
    'stdio and sse: most requests of one session or warm channel awaiting an answer (default 64)',
  TESSERA_PROXY_STATELESS_CHANNELS_PER_PRINCIPAL:
    'stdio and sse: most warm channels serving one principal’s 2026-07-28 requests (default 4)',
  TESSERA_PROXY_STDIO_COMMAND: 'stdio mode: the executable to spawn',
  TESSERA_PROXY_STDIO_ARGS: 'stdio mode: its arguments as a JSON array of strings (default [])',
  TESSERA_PROXY_STDIO_MAX_SESSIONS: 'stdio mode: most concurrent sessions (children) (default 32)',
  TESSERA_PROXY_STDIO_IDLE_TIMEOUT_MS: 'stdio mode: idle session lifetime (default 900000)',
  TESSERA_CONTROL_PLANE_URL:
    'the control plane mesh endpoint, or several separated by commas to fail over (default http://127.0.0.1:15010)',
  TESSERA_MESH_TOKEN: 'bootstrap token for the mesh stream (or TESSERA_MESH_TOKEN_FILE)',
  TESSERA_MESH_TOKEN_FILE:
    'file holding the mesh token or a projected service-account token; re-read as it rotates',
  TESSERA_MESH_IDLE_TIMEOUT_S:
    'a mesh stream silent this long (no config, no heartbeat) is abandoned and reopened (default 60)',
  TESSERA_PROXY_MAX_BODY_BYTES: 'largest accepted request body (default 4194304)',
  TESSERA_PROXY_MAX_STREAMS_PER_PRINCIPAL:
    'most GET and subscriptions/listen streams one principal may hold open at once; more are refused with 429 (default 16)',
  TESSERA_PROXY_ALLOWED_ORIGINS:
    'comma-separated browser origins allowed besides loopback and the resource URI origin (default none)',
  TESSERA_PROXY_ALLOWED_HOSTS:
    'on a loopback listener, comma-separated host names allowed in Host besides loopback and the resource URI host (default none)',
  TESSERA_PROXY_SNAPSHOT_DIR: 'last good configuration (default <tmpdir>/tessera-proxy/<node id>/snapshot)',
  TESSERA_PROXY_AUDIT_SPOOL_DIR:
    'audit spool directory (default <tmpdir>/tessera-proxy/<node id>/audit-spool)',
  TESSERA_PROXY_AUDIT_SPOOL_MAX_BYTES:
    'bound of the audit spool; the oldest events are dropped past it (default 67108864)',
  TESSERA_PROXY_AUDIT_DURABILITY:
    'process (an answer leaves once its audit event is in the spool file: survives a crash of the proxy) or disk (once the spool is flushed to stable storage with fdatasync: survives the loss of the machine; grouped flushes) (default process)',
  TESSERA_LOG_LEVEL: 'debug, info, warn or error (default info)',
  TESSERA_PROXY_REPLICAS:
    'how many proxies serve this server; each enforces 1/N of every rate limit (default 1)',
  TESSERA_PROXY_FILTER_ALLOW:
    'comma-separated CIDRs, addresses or host names filter webhooks may reach although private or loopback; plain http only to these (default none)',
  ...egressSettingsDoc,
} as const;

type Env = Record<string, string | undefined>;

/** Collects every problem rather than stopping at the first, so one run shows all that is wrong. */
class Problems {
  readonly list: string[] = [];
  add(name: string, message: string): undefined {
    this.list.push(`${name}: ${message}`);
    return undefined;
  }
}

function integer(env: Env, name: string, fallback: number, min: number, max: number, p: Problems): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) return p.add(name, `"${raw}" is not a whole number`) ?? fallback;
  const n = Number(raw);
  if (n < min || n > max) return p.add(name, `${n} is outside ${min}..${max}`) ?? fallback;
  return n;
}

function url(env: Env, name: string, fallback: string | undefined, p: Problems): URL | undefined {
  const raw = env[name] || fallback;
  if (raw === undefined) return undefined;
  try {
    const u = new URL(raw);
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      return p.add(name, `"${raw}" must be http or https`);
    return u;
  } catch {
    return p.add(name, `"${raw}" is not a URL`);
  }
}

/** A comma-separated list of URLs; every entry must be one. */
function urlList(env: Env, name: string, fallback: string, p: Problems): URL[] {
  const raw = env[name] || fallback;
  const urls: URL[] = [];
  for (const item of raw.split(',')) {
    const u = url({ [name]: item.trim() }, name, undefined, p);
    if (u) urls.push(u);
  }
  return urls;
}

/** Parses `host:port`; IPv6 hosts are written in brackets. */
export function parseListen(raw: string): { host: string; port: number } | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+):(\d{1,5})$/.exec(raw);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Reads and validates the bootstrap configuration.
 *
 * @throws TypeError listing every invalid or missing setting.
 */
export function readBootstrap(env: Env, readFile: (path: string) => string): Bootstrap {
  const p = new Problems();
  const mode = (env.TESSERA_PROXY_MODE || 'sidecar') as ProxyMode;
  if (mode !== 'sidecar' && mode !== 'stdio' && mode !== 'egress')
    p.add('TESSERA_PROXY_MODE', `"${mode}" must be sidecar, stdio or egress`);
  const server = env.TESSERA_PROXY_SERVER ?? '';
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(server)) {
    p.add('TESSERA_PROXY_SERVER', `"${server}" must be a DNS label (lower-case letters, digits, "-")`);
  }
  const listen = parseListen(env.TESSERA_PROXY_LISTEN || '127.0.0.1:15001');
  if (!listen) p.add('TESSERA_PROXY_LISTEN', `"${env.TESSERA_PROXY_LISTEN}" must be host:port`);

  const upstreamUrl = url(env, 'TESSERA_PROXY_UPSTREAM_URL', undefined, p);
  if ((mode === 'sidecar' || mode === 'egress') && !upstreamUrl && !env.TESSERA_PROXY_UPSTREAM_URL) {
    p.add('TESSERA_PROXY_UPSTREAM_URL', `is required in ${mode} mode`);
  }
  if (mode === 'egress' && upstreamUrl && upstreamUrl.protocol !== 'https:') {
    p.add('TESSERA_PROXY_UPSTREAM_URL', 'must be https in egress mode');
  }
  if (mode === 'sidecar' && upstreamUrl?.protocol === 'https:') {
    p.add('TESSERA_PROXY_UPSTREAM_URL', 'is https: a remote server needs TESSERA_PROXY_MODE=egress');
  }
  const egress =
    mode === 'egress'
      ? readEgressSettings(env, readFile, {
          integer: (name, fallback, min, max) => integer(env, name, fallback, min, max, p),
          problem: (name, message) => p.add(name, message),
        })
      : undefined;
  const filterAllow = parseAllowList((env.TESSERA_PROXY_FILTER_ALLOW ?? '').split(','), FILTER_ALLOW);
  for (const problem of filterAllow.problems) p.add('TESSERA_PROXY_FILTER_ALLOW', problem);
  const upstreamTransport = (env.TESSERA_PROXY_UPSTREAM_TRANSPORT || 'streamable-http') as UpstreamTransport;
  if (upstreamTransport !== 'streamable-http' && upstreamTransport !== 'sse')
    p.add('TESSERA_PROXY_UPSTREAM_TRANSPORT', `"${upstreamTransport}" must be streamable-http or sse`);
  else if (upstreamTransport === 'sse' && mode === 'stdio')
    p.add('TESSERA_PROXY_UPSTREAM_TRANSPORT', 'sse names an HTTP transport; stdio mode has none');
  const stdioCommand = env.TESSERA_PROXY_STDIO_COMMAND || undefined;
  if (mode === 'stdio' && !stdioCommand) p.add('TESSERA_PROXY_STDIO_COMMAND', 'is required in stdio mode');
  let stdioArgs: string[] = [];
  if (env.TESSERA_PROXY_STDIO_ARGS) {
    try {
      const parsed: unknown = JSON.parse(env.TESSERA_PROXY_STDIO_ARGS);
      if (!Array.isArray(parsed) || !parsed.every((a) => typeof a === 'string')) throw new Error();
      stdioArgs = parsed;
    } catch {
      p.add('TESSERA_PROXY_STDIO_ARGS', 'must be a JSON array of strings');
    }
  }

  let meshToken = env.TESSERA_MESH_TOKEN ?? '';
  if (!meshToken && env.TESSERA_MESH_TOKEN_FILE) {
    try {
      meshToken = readFile(env.TESSERA_MESH_TOKEN_FILE).trim();
    } catch (err) {
      p.add('TESSERA_MESH_TOKEN_FILE', `cannot be read: ${(err as Error).message}`);
    }
  }
  if (!meshToken) p.add('TESSERA_MESH_TOKEN', 'is required (or TESSERA_MESH_TOKEN_FILE)');

  const logLevel = (env.TESSERA_LOG_LEVEL || 'info') as Bootstrap['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    p.add('TESSERA_LOG_LEVEL', `"${logLevel}" must be debug, info, warn or error`);
  }

  const auditDurability = (env.TESSERA_PROXY_AUDIT_DURABILITY || 'process') as Bootstrap['auditDurability'];
  if (auditDurability !== 'process' && auditDurability !== 'disk') {
    p.add('TESSERA_PROXY_AUDIT_DURABILITY', `"${auditDurability}" must be process or disk`);
  }

  const allowedOrigins = (env.TESSERA_PROXY_ALLOWED_ORIGINS ?? '')
    .split(',')
    .map((o) => o.trim())
    .filter((o) => o !== '');
  for (const o of allowedOrigins) {
    if (!URL.canParse(o) || new URL(o).origin !== o)
      p.add('TESSERA_PROXY_ALLOWED_ORIGINS', `"${o}" is not an origin like https://chat.example.com`);
  }

  const allowedHosts = (env.TESSERA_PROXY_ALLOWED_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
  for (const h of allowedHosts) {
    if (hostName(h) !== h)
      p.add(
        'TESSERA_PROXY_ALLOWED_HOSTS',
        `"${h}" is not a host name like dev.internal (no port, no scheme)`,
      );
  }

  const nodeId = env.TESSERA_PROXY_NODE_ID || `${hostname()}-${process.pid}`;
  if (!/^[A-Za-z0-9._-]{1,253}$/.test(nodeId)) {
    p.add('TESSERA_PROXY_NODE_ID', `"${nodeId}" may hold only letters, digits, ".", "_" and "-"`);
  }
  const config: Bootstrap = {
    mode,
    server,
    nodeId,
    listenHost: listen?.host ?? '127.0.0.1',
    listenPort: listen?.port ?? 15001,
    upstreamUrl,
    upstreamTransport,
    sseMaxSessions: integer(env, 'TESSERA_PROXY_SSE_MAX_SESSIONS', 32, 1, 10_000, p),
    sseIdleTimeoutMs: integer(env, 'TESSERA_PROXY_SSE_IDLE_TIMEOUT_MS', 900_000, 1_000, 86_400_000, p),
    maxPendingRequests: integer(env, 'TESSERA_PROXY_MAX_PENDING_REQUESTS', 64, 1, 100_000, p),
    statelessChannelsPerPrincipal: integer(
      env,
      'TESSERA_PROXY_STATELESS_CHANNELS_PER_PRINCIPAL',
      4,
      1,
      1_000,
      p,
    ),
    stdioCommand,
    stdioArgs,
    stdioMaxSessions: integer(env, 'TESSERA_PROXY_STDIO_MAX_SESSIONS', 32, 1, 10_000, p),
    stdioIdleTimeoutMs: integer(env, 'TESSERA_PROXY_STDIO_IDLE_TIMEOUT_MS', 900_000, 1_000, 86_400_000, p),
    egress,
    filterAllow: filterAllow.allow,
    replicas: integer(env, 'TESSERA_PROXY_REPLICAS', 1, 1, 1000, p),
    controlPlaneUrl: new URL('http://invalid'),
    controlPlaneUrls: urlList(env, 'TESSERA_CONTROL_PLANE_URL', 'http://127.0.0.1:15010', p),
    meshToken,
    meshTokenFile: env.TESSERA_MESH_TOKEN ? undefined : env.TESSERA_MESH_TOKEN_FILE || undefined,
    meshIdleTimeoutMs: integer(env, 'TESSERA_MESH_IDLE_TIMEOUT_S', 60, 1, 3_600, p) * 1000,
    maxBodyBytes: integer(env, 'TESSERA_PROXY_MAX_BODY_BYTES', 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024, p),
    maxStreamsPerPrincipal: integer(env, 'TESSERA_PROXY_MAX_STREAMS_PER_PRINCIPAL', 16, 1, 100_000, p),
    allowedOrigins,
    allowedHosts,
    snapshotDir: env.TESSERA_PROXY_SNAPSHOT_DIR || join(tmpdir(), 'tessera-proxy', nodeId, 'snapshot'),
    auditSpoolDir:
      env.TESSERA_PROXY_AUDIT_SPOOL_DIR || join(tmpdir(), 'tessera-proxy', nodeId, 'audit-spool'),
    auditSpoolMaxBytes: integer(
      env,
      'TESSERA_PROXY_AUDIT_SPOOL_MAX_BYTES',
      64 * 1024 * 1024,
      64 * 1024,
      1024 ** 4,
      p,
    ),
    auditDurability,
    logLevel,
  };
  config.controlPlaneUrl = config.controlPlaneUrls[0] ?? config.controlPlaneUrl;
  if (p.list.length > 0) throw new TypeError(`invalid proxy configuration:\n  ${p.list.join('\n  ')}`);
  return config;
}
