/**
 * The static settings of egress mode (a remote MCP server over https), read with the rest of the
 * bootstrap. Egress mode is chosen explicitly with `TESSERA_PROXY_MODE=egress`, never inferred from
 * the URL's scheme, so that a sidecar never silently becomes an internet client.
 *
 * @module
 */
import type { AllowList } from '../egress/ssrf-guard.ts';
import { parseAllowList } from '../egress/ssrf-guard.ts';

export interface EgressSettings {
  /** Exceptions to the SSRF guard. */
  allow: AllowList;
  /** Extra CA certificates (PEM) trusted besides Node's roots, for private PKIs. */
  ca: string | undefined;
  connectTimeoutMs: number;
  maxConnections: number;
  /** How long a credential the control plane gave without `expires_at` is cached. */
  credentialTtlMs: number;
  credentialCacheSize: number;
}

export const egressSettingsDoc = {
  TESSERA_PROXY_EGRESS_ALLOW:
    'egress mode: comma-separated CIDRs, addresses or host names the SSRF guard lets through (default none)',
  TESSERA_PROXY_EGRESS_CA_FILE: 'egress mode: PEM file of CA certificates trusted besides the system roots',
  TESSERA_PROXY_EGRESS_CONNECT_TIMEOUT_MS: 'egress mode: TCP + TLS connect timeout (default 10000)',
  TESSERA_PROXY_EGRESS_MAX_CONNECTIONS: 'egress mode: most connections to the remote server (default 64)',
  TESSERA_PROXY_CREDENTIAL_TTL_S:
    'egress mode: cache lifetime of a credential sent without an expiry (default 300)',
  TESSERA_PROXY_CREDENTIAL_CACHE_SIZE: 'egress mode: most users whose credentials are cached (default 10000)',
} as const;

/** Helpers of the bootstrap reader, so that problems are collected with the rest. */
export interface SettingsReader {
  integer(name: string, fallback: number, min: number, max: number): number;
  problem(name: string, message: string): void;
}

/** Reads the egress settings; problems go to `reader.problem`. */
export function readEgressSettings(
  env: Record<string, string | undefined>,
  readFile: (path: string) => string,
  reader: SettingsReader,
): EgressSettings {
  const { allow, problems } = parseAllowList((env.TESSERA_PROXY_EGRESS_ALLOW ?? '').split(','));
  for (const p of problems) reader.problem('TESSERA_PROXY_EGRESS_ALLOW', p);
  let ca: string | undefined;
  if (env.TESSERA_PROXY_EGRESS_CA_FILE) {
    try {
      ca = readFile(env.TESSERA_PROXY_EGRESS_CA_FILE);
      if (!ca.includes('-----BEGIN CERTIFICATE-----')) {
        reader.problem('TESSERA_PROXY_EGRESS_CA_FILE', 'holds no PEM certificate');
      }
    } catch (err) {
      reader.problem('TESSERA_PROXY_EGRESS_CA_FILE', `cannot be read: ${(err as Error).message}`);
    }
  }
  return {
    allow,
    ca,
    connectTimeoutMs: reader.integer('TESSERA_PROXY_EGRESS_CONNECT_TIMEOUT_MS', 10_000, 100, 120_000),
    maxConnections: reader.integer('TESSERA_PROXY_EGRESS_MAX_CONNECTIONS', 64, 1, 10_000),
    credentialTtlMs: reader.integer('TESSERA_PROXY_CREDENTIAL_TTL_S', 300, 1, 86_400) * 1000,
    credentialCacheSize: reader.integer('TESSERA_PROXY_CREDENTIAL_CACHE_SIZE', 10_000, 1, 1_000_000),
  };
}
