/**
 * The control plane's settings, read from the environment and validated as a whole. Every variable
 * is listed in `settingsDoc` and in the README.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseCidrList } from './credentials/oauth/outbound-policy.ts';

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
  refreshTokenTtlSeconds: number;
  /** Hosts (`host[:port]`) whose client ID metadata documents may be fetched past the SSRF guard. */
  cimdTrustedHosts: string[];
  /** Open dynamic client registrations one client address may make per hour. */
  registrationsPerAddressPerHour: number;
  /** Open dynamic client registrations one replica accepts per hour, from all addresses. */
  registrationsPerHour: number;
  /** Sign-in with local accounts (email + password) on the login page. */
  localAccounts: boolean;
  /** undefined: no local account is created for the bootstrap administrator. */
  adminPassword: string | undefined;
  /** The enterprise OpenID Connect provider, when configured. */
  oidc: OidcLoginSettings | undefined;
  /** GitHub login, when configured. */
  github: GithubLoginSettings | undefined;
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
  /** Who wraps the data keys of secrets at rest. */
  keyProvider: 'local' | 'aws-kms';
  /** undefined: the local keys live in `<dataDir>/encryption-keys.json`. */
  encryptionKeys: string | undefined;
  kmsKeyId: string | undefined;
  /** undefined: the AWS SDK's default endpoint for the region. */
  kmsEndpoint: string | undefined;
  kmsRegion: string | undefined;
  /** Ranges the control plane may fetch from although they are private or loopback (SSRF guard). */
  outboundAllow: Array<{ address: string; prefix: number }>;
  /** undefined: the MCPServer controller does not run. */
  kubernetes: KubernetesSettings | undefined;
}

export interface OidcLoginSettings {
  issuer: string;
  clientId: string;
  clientSecret: string | undefined;
  scopes: string;
  groupsClaim: string;
  label: string;
}

export interface GithubLoginSettings {
  clientId: string;
  clientSecret: string;
  githubUrl: string;
  apiUrl: string;
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
  [
    'TESSERA_DATA_DIR',
    './.tessera',
    "local state: embedded PostgreSQL data, generated tokens, local proxies' snapshots and audit spools",
  ],
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
  [
    'TESSERA_TOKEN_TTL_SECONDS',
    '3600',
    'lifetime of access tokens (minted and issued by the authorization server)',
  ],
  [
    'TESSERA_REFRESH_TOKEN_TTL_SECONDS',
    '1209600',
    'lifetime of refresh tokens, grants and sign-in sessions of the authorization server',
  ],
  [
    'TESSERA_REGISTRATIONS_PER_IP_PER_HOUR',
    '30',
    'dynamic client registrations (`POST /oauth/register`) one client address may make per hour; more get 429 (behind a load balancer every client shares its address)',
  ],
  [
    'TESSERA_REGISTRATIONS_PER_HOUR',
    '600',
    'dynamic client registrations one replica accepts per hour from all addresses; more get 429',
  ],
  [
    'TESSERA_LOCAL_ACCOUNTS',
    'true',
    'offer sign-in with local accounts (argon2id passwords) on the login page',
  ],
  [
    'TESSERA_ADMIN_PASSWORD',
    '(unset)',
    'when set, a local account for TESSERA_ADMIN_EMAIL with this password is created at start if missing',
  ],
  [
    'TESSERA_OIDC_ISSUER',
    '(unset)',
    'issuer URL of the enterprise OpenID Connect provider; enables its login',
  ],
  ['TESSERA_OIDC_CLIENT_ID', '(unset)', 'client ID registered at the OpenID Connect provider'],
  ['TESSERA_OIDC_CLIENT_SECRET', '(unset)', 'its client secret (unset: a public client)'],
  ['TESSERA_OIDC_SCOPES', 'openid email profile', 'scopes requested from the OpenID Connect provider'],
  ['TESSERA_OIDC_GROUPS_CLAIM', 'groups', "the ID token or userinfo claim that lists the person's groups"],
  ['TESSERA_OIDC_LABEL', 'single sign-on', 'the login button reads "Sign in with <label>"'],
  ['TESSERA_GITHUB_CLIENT_ID', '(unset)', 'client ID of a GitHub OAuth app; enables GitHub login'],
  ['TESSERA_GITHUB_CLIENT_SECRET', '(unset)', 'its client secret'],
  ['TESSERA_GITHUB_URL', 'https://github.com', 'GitHub web URL (GitHub Enterprise Server: its URL)'],
  ['TESSERA_GITHUB_API_URL', 'https://api.github.com', 'GitHub REST API URL (GHES: <url>/api/v3)'],
  [
    'TESSERA_CIMD_TRUSTED_HOSTS',
    '(none)',
    'comma-separated host[:port] list whose client ID metadata documents may be fetched even at private or loopback addresses (tests, private deployments); still https only',
  ],
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
    'TESSERA_KEY_PROVIDER',
    'local',
    'who wraps the data keys of secrets at rest: local (a key file or TESSERA_ENCRYPTION_KEYS) or aws-kms',
  ],
  [
    'TESSERA_ENCRYPTION_KEYS',
    '(generated)',
    'local provider: base64 32-byte keys, comma-separated, current first; unset: <data dir>/encryption-keys.json (0600)',
  ],
  [
    'TESSERA_KMS_KEY_ID',
    '(unset)',
    'aws-kms provider: the KMS key (id, ARN or alias/…) that wraps data keys',
  ],
  ['TESSERA_KMS_ENDPOINT', '(AWS default)', 'aws-kms provider: endpoint override (a KMS-compatible service)'],
  [
    'TESSERA_KMS_REGION',
    '(AWS_REGION)',
    'aws-kms provider: the AWS region; credentials come from the AWS SDK default chain',
  ],
  [
    'TESSERA_OUTBOUND_ALLOW',
    '(none)',
    'CIDR ranges (comma-separated) the OAuth client may reach although private, loopback or link-local; plain http only there',
  ],
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
] as const satisfies readonly (readonly [name: string, fallback: string, meaning: string])[];

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
  const url = (name: string, fallback?: string): string | undefined => {
    const raw = env[name] || fallback;
    if (!raw) return undefined;
    const u = URL.parse(raw);
    if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.search || u.hash) {
      problems.push(`${name}: "${raw}" must be an http(s) URL without query or fragment`);
      return undefined;
    }
    return raw.replace(/\/$/, '');
  };
  const oidcIssuer = url('TESSERA_OIDC_ISSUER');
  let oidc: OidcLoginSettings | undefined;
  if (oidcIssuer) {
    if (!env.TESSERA_OIDC_CLIENT_ID)
      problems.push('TESSERA_OIDC_CLIENT_ID: required with TESSERA_OIDC_ISSUER');
    const scopes = env.TESSERA_OIDC_SCOPES || 'openid email profile';
    if (!scopes.split(' ').includes('openid')) problems.push('TESSERA_OIDC_SCOPES: must include openid');
    oidc = {
      issuer: env.TESSERA_OIDC_ISSUER!,
      clientId: env.TESSERA_OIDC_CLIENT_ID ?? '',
      clientSecret: env.TESSERA_OIDC_CLIENT_SECRET || undefined,
      scopes,
      groupsClaim: env.TESSERA_OIDC_GROUPS_CLAIM || 'groups',
      label: env.TESSERA_OIDC_LABEL || 'single sign-on',
    };
  }
  let github: GithubLoginSettings | undefined;
  if (env.TESSERA_GITHUB_CLIENT_ID) {
    if (!env.TESSERA_GITHUB_CLIENT_SECRET)
      problems.push('TESSERA_GITHUB_CLIENT_SECRET: required with TESSERA_GITHUB_CLIENT_ID');
    github = {
      clientId: env.TESSERA_GITHUB_CLIENT_ID,
      clientSecret: env.TESSERA_GITHUB_CLIENT_SECRET ?? '',
      githubUrl: url('TESSERA_GITHUB_URL', 'https://github.com') ?? '',
      apiUrl: url('TESSERA_GITHUB_API_URL', 'https://api.github.com') ?? '',
    };
  }
  const adminPassword = env.TESSERA_ADMIN_PASSWORD || undefined;
  if (adminPassword !== undefined && adminPassword.length < 12)
    problems.push('TESSERA_ADMIN_PASSWORD: must be at least 12 characters');
  const logLevel = (env.TESSERA_LOG_LEVEL || 'info') as Settings['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    problems.push(`TESSERA_LOG_LEVEL: "${logLevel}" must be debug, info, warn or error`);
  }
  const keyProvider = (env.TESSERA_KEY_PROVIDER || 'local') as Settings['keyProvider'];
  if (keyProvider !== 'local' && keyProvider !== 'aws-kms')
    problems.push(`TESSERA_KEY_PROVIDER: "${keyProvider}" must be local or aws-kms`);
  const kmsKeyId = env.TESSERA_KMS_KEY_ID || undefined;
  if (keyProvider === 'aws-kms' && !kmsKeyId)
    problems.push('TESSERA_KMS_KEY_ID: required when TESSERA_KEY_PROVIDER is aws-kms');
  const kmsEndpoint = env.TESSERA_KMS_ENDPOINT || undefined;
  if (kmsEndpoint && !URL.canParse(kmsEndpoint))
    problems.push(`TESSERA_KMS_ENDPOINT: "${kmsEndpoint}" is not a URL`);
  let outboundAllow: Settings['outboundAllow'] = [];
  try {
    outboundAllow = parseCidrList(env.TESSERA_OUTBOUND_ALLOW ?? '');
  } catch (err) {
    problems.push(`TESSERA_OUTBOUND_ALLOW: ${(err as Error).message}`);
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
    refreshTokenTtlSeconds: int('TESSERA_REFRESH_TOKEN_TTL_SECONDS', 1_209_600, 300, 31_536_000),
    localAccounts: bool('TESSERA_LOCAL_ACCOUNTS', true),
    cimdTrustedHosts: cimdTrustedHosts(env.TESSERA_CIMD_TRUSTED_HOSTS, problems),
    registrationsPerAddressPerHour: int('TESSERA_REGISTRATIONS_PER_IP_PER_HOUR', 30, 1, 1_000_000),
    registrationsPerHour: int('TESSERA_REGISTRATIONS_PER_HOUR', 600, 1, 1_000_000),
    adminPassword,
    oidc,
    github,
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
    keyProvider,
    encryptionKeys: env.TESSERA_ENCRYPTION_KEYS || undefined,
    kmsKeyId,
    kmsEndpoint,
    kmsRegion: env.TESSERA_KMS_REGION || env.AWS_REGION || undefined,
    outboundAllow,
    kubernetes,
  };
  if (problems.length > 0)
    throw new TypeError(`invalid control-plane configuration:\n  ${problems.join('\n  ')}`);
  return settings;
}

function cimdTrustedHosts(raw: string | undefined, problems: string[]): string[] {
  const hosts = (raw ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  for (const h of hosts) {
    if (URL.parse(`https://${h}/`)?.host !== h)
      problems.push(`TESSERA_CIMD_TRUSTED_HOSTS: "${h}" is not a host or host:port`);
  }
  return hosts;
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
