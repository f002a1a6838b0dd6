/**
 * The control plane's settings, read from the environment and validated as a whole. Every variable
 * is listed in `settingsDoc` and in the README.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';

export interface Settings {
  dataDir: string;
  /** undefined: start the embedded PostgreSQL under `dataDir`. */
  databaseUrl: string | undefined;
  embeddedPgPort: number;
  host: string;
  port: number;
  meshHost: string;
  meshPort: number;
  /** The externally visible base URL: the token issuer and the authorization server of every server. */
  publicUrl: string;
  adminEmail: string;
  /** undefined: generated once and kept in `<dataDir>/admin-token`. */
  adminToken: string | undefined;
  /** undefined: generated once and kept in `<dataDir>/mesh-token`. */
  meshToken: string | undefined;
  localProxies: boolean;
  demoServer: boolean;
  demoPort: number;
  tokenTtlSeconds: number;
  meshMaxStreamAgeS: number;
  meshNewStreamsPerSecond: number;
  meshNewStreamBurst: number;
  /** Most configuration pushes written at once across all streams. */
  meshPushConcurrency: number;
  meshHeartbeatS: number;
  meshStatusIntervalMs: number;
  /** `local`: bootstrap tokens only; `kubernetes`: also service-account tokens checked by TokenReview. */
  meshAuth: 'local' | 'kubernetes';
  /** Kubernetes mode: namespaces whose service accounts may run proxies (empty: any). */
  meshK8sNamespaces: string[];
  auditBatchMaxEvents: number;
  auditFlushIntervalMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** undefined: the MCPServer controller does not run. */
  kubernetes: KubernetesSettings | undefined;
}

/** The MCPServer controller's settings (`TESSERA_KUBERNETES=1`). */
export interface KubernetesSettings {
  /** Namespace of the leader-election Lease; the pod's own namespace in a cluster. */
  namespace: string;
  /** This replica's identity in the Lease. */
  podName: string;
  resyncSeconds: number;
  clusterDomain: string;
  proxyImage: string;
  runnerNodeImage: string;
  runnerPythonImage: string;
  /** The mesh URL as proxies inside the cluster reach it. */
  meshAddress: string;
}

/** Every environment variable of the control plane, with its default and meaning. */
export const settingsDoc = [
  ['TESSERA_DATA_DIR', './.tessera', 'local state: embedded PostgreSQL data, generated tokens'],
  ['DATABASE_URL', '(unset)', 'PostgreSQL URL; unset starts an embedded PostgreSQL under the data directory'],
  ['TESSERA_EMBEDDED_PG_PORT', '54329', 'port of the embedded PostgreSQL (127.0.0.1 only)'],
  ['TESSERA_HOST', '127.0.0.1', 'address of the public HTTP listener (admin API)'],
  ['TESSERA_PORT', '8080', 'port of the public HTTP listener'],
  ['TESSERA_MESH_HOST', '127.0.0.1', 'address of the mesh (HTTP/2 Connect) listener'],
  ['TESSERA_MESH_PORT', '15010', 'port of the mesh listener that proxies connect to'],
  ['TESSERA_PUBLIC_URL', 'http://127.0.0.1:<TESSERA_PORT>', 'external base URL; the access-token issuer'],
  ['TESSERA_ADMIN_EMAIL', 'admin@example.com', 'bootstrap administrator; granted the demo server'],
  [
    'TESSERA_ADMIN_TOKEN',
    '(generated)',
    'bearer token for the admin API; generated into <data dir>/admin-token',
  ],
  [
    'TESSERA_MESH_TOKEN',
    '(generated)',
    'bootstrap token proxies present on the mesh stream; generated into <data dir>/mesh-token',
  ],
  ['TESSERA_LOCAL_PROXIES', 'true', 'spawn a local proxy process for every registered server'],
  ['TESSERA_DEMO_SERVER', 'true', 'register the demo server "everything" (server-everything over stdio)'],
  ['TESSERA_DEMO_PORT', '15001', "port of the demo server's local proxy"],
  ['TESSERA_TOKEN_TTL_SECONDS', '3600', 'lifetime of minted access tokens'],
  [
    'TESSERA_MESH_MAX_STREAM_AGE_S',
    '1800',
    'a proxy stream is closed after this long (±10 %) so proxies rebalance across replicas',
  ],
  [
    'TESSERA_MESH_NEW_STREAMS_PER_S',
    '200',
    'new mesh streams admitted per second after the burst (a new stream waits up to 1 s, then RESOURCE_EXHAUSTED)',
  ],
  ['TESSERA_MESH_NEW_STREAM_BURST', '500', 'new mesh streams admitted at once'],
  [
    'TESSERA_MESH_PUSH_CONCURRENCY',
    'min(15 + 5 × cores, 100)',
    'most configuration pushes written at once across all proxy streams',
  ],
  ['TESSERA_MESH_HEARTBEAT_S', '20', 'a heartbeat response goes to a proxy stream quiet for this long'],
  [
    'TESSERA_MESH_STATUS_INTERVAL_MS',
    '1000',
    'how often a replica writes its proxies status to PostgreSQL (rows expire after 5 intervals)',
  ],
  [
    'TESSERA_MESH_AUTH',
    'local',
    'local (bootstrap tokens) or kubernetes (also service-account tokens via TokenReview)',
  ],
  [
    'TESSERA_MESH_K8S_NAMESPACES',
    '(any)',
    'kubernetes mode: comma-separated namespaces whose service accounts may run proxies',
  ],
  ['TESSERA_AUDIT_BATCH_MAX_EVENTS', '256', 'proxies ship an audit batch at this many events'],
  ['TESSERA_AUDIT_FLUSH_INTERVAL_MS', '1000', 'proxies ship a non-empty audit batch after this long'],
  ['TESSERA_LOG_LEVEL', 'info', 'debug, info, warn or error'],
  [
    'TESSERA_KUBERNETES',
    'false',
    'run the MCPServer controller (in-cluster config, else $KUBECONFIG), leader-elected with a Lease',
  ],
  [
    'TESSERA_KUBE_NAMESPACE',
    "(the pod's namespace, else default)",
    'namespace of the controller Lease tessera-controller',
  ],
  ['TESSERA_POD_NAME', '(hostname)', "this replica's identity in the Lease"],
  ['TESSERA_KUBE_RESYNC_S', '300', 'every MCPServer is reconciled at least this often (10..86400)'],
  ['TESSERA_KUBE_CLUSTER_DOMAIN', 'cluster.local', 'DNS domain of the mesh hostnames in status.endpoint'],
  ['TESSERA_PROXY_IMAGE', 'tessera/proxy:0.1.0', 'image of egress proxies (remote servers)'],
  [
    'TESSERA_RUNNER_NODE_IMAGE',
    'tessera/runner-node:0.1.0',
    'runner image of stdio servers with runtime node',
  ],
  [
    'TESSERA_RUNNER_PYTHON_IMAGE',
    'tessera/runner-python:0.1.0',
    'runner image of stdio servers with runtime python',
  ],
  [
    'TESSERA_MESH_ADDRESS',
    'http://tessera-mesh.<namespace>.svc:15010',
    'the mesh URL that proxies in the cluster connect to',
  ],
] as const;

type Env = Record<string, string | undefined>;

/**
 * Reads and validates the settings.
 *
 * @throws TypeError listing every invalid setting.
 */
export function readSettings(env: Env, cwd = process.cwd()): Settings {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
      problems.push(`${name}: "${raw}" must be a whole number in ${min}..${max}`);
      return fallback;
    }
    return Number(raw);
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    if (raw === 'true' || raw === '1') return true;
    if (raw === 'false' || raw === '0') return false;
    problems.push(`${name}: "${raw}" must be true or false`);
    return fallback;
  };
  const port = int('TESSERA_PORT', 8080, 0, 65535);
  const host = env.TESSERA_HOST || '127.0.0.1';
  const publicUrl = (
    env.TESSERA_PUBLIC_URL || `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  ).replace(/\/$/, '');
  try {
    const u = new URL(publicUrl);
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      problems.push('TESSERA_PUBLIC_URL: must be http(s)');
  } catch {
    problems.push(`TESSERA_PUBLIC_URL: "${publicUrl}" is not a URL`);
  }
  const databaseUrl = env.DATABASE_URL || undefined;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    problems.push('DATABASE_URL: must start with postgres:// or postgresql://');
  }
  const adminEmail = env.TESSERA_ADMIN_EMAIL || 'admin@example.com';
  if (!/^[^@\s]+@[^@\s]+$/.test(adminEmail))
    problems.push(`TESSERA_ADMIN_EMAIL: "${adminEmail}" is not an email address`);
  for (const name of ['TESSERA_ADMIN_TOKEN', 'TESSERA_MESH_TOKEN']) {
    const v = env[name];
    if (v !== undefined && v !== '' && v.length < 32)
      problems.push(`${name}: must be at least 32 characters`);
  }
  const logLevel = (env.TESSERA_LOG_LEVEL || 'info') as Settings['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    problems.push(`TESSERA_LOG_LEVEL: "${logLevel}" must be debug, info, warn or error`);
  }
  const meshAuth = (env.TESSERA_MESH_AUTH || 'local') as Settings['meshAuth'];
  if (meshAuth !== 'local' && meshAuth !== 'kubernetes') {
    problems.push(`TESSERA_MESH_AUTH: "${meshAuth}" must be local or kubernetes`);
  }
  const meshK8sNamespaces = (env.TESSERA_MESH_K8S_NAMESPACES ?? '')
    .split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  for (const n of meshK8sNamespaces) {
    if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(n))
      problems.push(`TESSERA_MESH_K8S_NAMESPACES: "${n}" is not a namespace name`);
  }
  let kubernetes: KubernetesSettings | undefined;
  if (bool('TESSERA_KUBERNETES', false)) {
    const namespace = env.TESSERA_KUBE_NAMESPACE || podNamespace() || 'default';
    const meshAddress = env.TESSERA_MESH_ADDRESS || `http://tessera-mesh.${namespace}.svc:15010`;
    if (!/^https?:\/\/[^/]+$/.test(meshAddress.replace(/\/$/, ''))) {
      problems.push(`TESSERA_MESH_ADDRESS: "${meshAddress}" must be http(s)://host:port`);
    }
    const image = (name: string, fallback: string) => {
      const v = env[name] || fallback;
      if (/\s/.test(v) || v.length > 512) problems.push(`${name}: "${v}" is not an image reference`);
      return v;
    };
    kubernetes = {
      namespace,
      podName: env.TESSERA_POD_NAME || hostname(),
      resyncSeconds: int('TESSERA_KUBE_RESYNC_S', 300, 10, 86_400),
      clusterDomain: env.TESSERA_KUBE_CLUSTER_DOMAIN || 'cluster.local',
      proxyImage: image('TESSERA_PROXY_IMAGE', 'tessera/proxy:0.1.0'),
      runnerNodeImage: image('TESSERA_RUNNER_NODE_IMAGE', 'tessera/runner-node:0.1.0'),
      runnerPythonImage: image('TESSERA_RUNNER_PYTHON_IMAGE', 'tessera/runner-python:0.1.0'),
      meshAddress: meshAddress.replace(/\/$/, ''),
    };
  }
  const settings: Settings = {
    dataDir: resolve(cwd, env.TESSERA_DATA_DIR || '.tessera'),
    databaseUrl,
    embeddedPgPort: int('TESSERA_EMBEDDED_PG_PORT', 54329, 1, 65535),
    host,
    port,
    meshHost: env.TESSERA_MESH_HOST || '127.0.0.1',
    meshPort: int('TESSERA_MESH_PORT', 15010, 0, 65535),
    publicUrl,
    adminEmail,
    adminToken: env.TESSERA_ADMIN_TOKEN || undefined,
    meshToken: env.TESSERA_MESH_TOKEN || undefined,
    localProxies: bool('TESSERA_LOCAL_PROXIES', true),
    demoServer: bool('TESSERA_DEMO_SERVER', true),
    demoPort: int('TESSERA_DEMO_PORT', 15001, 1, 65535),
    tokenTtlSeconds: int('TESSERA_TOKEN_TTL_SECONDS', 3600, 60, 86_400),
    meshMaxStreamAgeS: int('TESSERA_MESH_MAX_STREAM_AGE_S', 1800, 1, 86_400),
    meshNewStreamsPerSecond: int('TESSERA_MESH_NEW_STREAMS_PER_S', 200, 1, 1_000_000),
    meshNewStreamBurst: int('TESSERA_MESH_NEW_STREAM_BURST', 500, 1, 1_000_000),
    meshPushConcurrency: int(
      'TESSERA_MESH_PUSH_CONCURRENCY',
      Math.min(15 + 5 * availableParallelism(), 100),
      1,
      10_000,
    ),
    meshHeartbeatS: int('TESSERA_MESH_HEARTBEAT_S', 20, 1, 3_600),
    meshStatusIntervalMs: int('TESSERA_MESH_STATUS_INTERVAL_MS', 1000, 50, 60_000),
    meshAuth,
    meshK8sNamespaces,
    auditBatchMaxEvents: int('TESSERA_AUDIT_BATCH_MAX_EVENTS', 256, 1, 10_000),
    auditFlushIntervalMs: int('TESSERA_AUDIT_FLUSH_INTERVAL_MS', 1000, 10, 60_000),
    logLevel,
    kubernetes,
  };
  if (problems.length > 0)
    throw new TypeError(`invalid control-plane configuration:\n  ${problems.join('\n  ')}`);
  return settings;
}

/** The namespace a pod runs in, from its service-account mount; undefined outside a cluster. */
function podNamespace(): string | undefined {
  try {
    return (
      readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim() || undefined
    );
  } catch {
    return undefined;
  }
}
