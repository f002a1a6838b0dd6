/**
 * The proxy's internal representation of its pushed configuration: validated, compiled, immutable.
 * The server reads only this, never protobuf messages.
 *
 * @module
 */
import type { Es256KeySet } from '../policies/es256-jwt.ts';
import type { GlobSet } from '../policies/glob.ts';
import type { PolicyEngine } from '../policies/policy-engine.ts';

export interface TrustIR {
  issuer: string;
  /** The issuer's signing keys, imported once per bundle. */
  keys: Es256KeySet;
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

export interface BucketIR {
  capacity: number;
  refillPerSecond: number;
}

/** A filter webhook, validated. */
export interface FilterIR {
  name: string;
  url: URL;
  phase: 'request' | 'response';
  methods: GlobSet;
  targets: GlobSet;
  timeoutMs: number;
  mayMutate: boolean;
  secret: string;
}

export interface PolicyIR {
  /** The compiled rules and grants: the one decision function. */
  engine: PolicyEngine;
  rateLimits: { perUser: BucketIR | undefined; perTool: BucketIR | undefined };
  filters: readonly FilterIR[];
  /** Body capture for audit events; undefined when off. */
  auditBodies: { maxBytes: number } | undefined;
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
