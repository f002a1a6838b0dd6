/**
 * The proxy's internal representation of its pushed configuration: validated, compiled, immutable.
 * The server reads only this, never protobuf messages.
 *
 * @module
 */
import type { JWTVerifyGetKey } from 'jose';

export interface TrustIR {
  issuer: string;
  keys: JWTVerifyGetKey;
  /** API keys scoped to this server, by id. */
  apiKeys: ReadonlyMap<string, ApiKeyIR>;
}

export interface ApiKeyIR {
  id: string;
  /** SHA-256 of the whole key string. */
  sha256: Buffer;
  user: string;
  groups: readonly string[];
  expiresAtMs: number;
}

export interface UpstreamIR {
  server: string;
  /** The canonical resource URI: the audience tokens must carry. */
  resourceUri: string;
  /** The path clients call, taken from the resource URI. */
  endpointPath: string;
  /** Where the RFC 9728 document for this resource is served, as a path and as a URL. */
  metadataPath: string;
  metadataUrl: string;
  authorizationServers: string[];
  scopesSupported: string[];
  /** Scopes every token must carry; a token lacking one gets 403 insufficient_scope. */
  requiredScopes: string[];
  requestTimeoutMs: number;
}

export interface PolicyIR {
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
}

export interface AuditIR {
  batchMaxEvents: number;
  flushIntervalMs: number;
}

/** A complete configuration: every type has arrived at least once. */
export interface ProxyConfig {
  trust: TrustIR;
  upstream: UpstreamIR;
  policy: PolicyIR;
  audit: AuditIR;
}

/** Pushed resource types, in the dependency order the control plane sends them. */
export const ResourceKind = {
  Trust: 'trust',
  Upstream: 'upstream',
  Policy: 'policy',
  Audit: 'audit',
} as const;
export type ResourceKind = (typeof ResourceKind)[keyof typeof ResourceKind];
