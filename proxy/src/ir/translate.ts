/**
 * Translates discovery responses into the internal representation. A response is validated as a
 * whole: any problem rejects it (the caller NACKs and keeps the previous configuration).
 *
 * @module
 */

import type { AuditSettings, TrustBundle, Upstream } from '@tessera/api/mesh/v1/config';
import type { DiscoveryResponse } from '@tessera/api/mesh/v1/discovery';
import { TesseraError } from '../errors.ts';
import {
  decodeAuditSettings,
  decodeServerPolicy,
  decodeTrustBundle,
  decodeUpstream,
  typeUrls as meshTypeUrls,
  timestampMs,
} from '../mesh-api/protobuf/mesh-messages.ts';
import { type Es256KeySet, importEs256Jwks } from '../policies/es256-jwt.ts';
import type { ApiKeyIR, AuditIR, PolicyIR, ResourceKind, TrustIR, UpstreamIR } from './proxy-config.ts';
import { translatePolicy } from './translate-policy.ts';

export { translatePolicy };

/** The type URL of each kind of resource, as carried in `DiscoveryRequest.type_url`. */
export const typeUrls: Record<ResourceKind, string> = {
  trust: meshTypeUrls.TrustBundle,
  upstream: meshTypeUrls.Upstream,
  policy: meshTypeUrls.ServerPolicy,
  audit: meshTypeUrls.AuditSettings,
};

/** The type name in a type URL: what follows its last slash (as protobuf-es's `anyIs` reads it). */
function typeNameOf(typeUrl: string): string {
  return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
}

export function kindOfTypeUrl(typeUrl: string): ResourceKind | undefined {
  for (const [kind, url] of Object.entries(typeUrls)) if (url === typeUrl) return kind as ResourceKind;
  return undefined;
}

function invalid(message: string): TesseraError {
  return new TesseraError('TESSERA_CONFIG_INVALID', message);
}

/** Exactly one resource, of the message type of `kind`, decoded. */
function single<T>(response: DiscoveryResponse, kind: ResourceKind, decode: (bytes: Uint8Array) => T): T {
  const typeName = typeNameOf(typeUrls[kind]);
  if (response.resources.length !== 1) {
    throw invalid(`${typeName}: expected exactly 1 resource, got ${response.resources.length}`);
  }
  const any = response.resources[0]!.resource;
  if (!any || typeNameOf(any.typeUrl) !== typeName) {
    throw invalid(`${typeName}: resource has the wrong type`);
  }
  try {
    return decode(any.value);
  } catch (err) {
    throw invalid(`${typeName}: resource cannot be decoded: ${(err as Error).message}`);
  }
}

function httpUrl(field: string, raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw invalid(`${field}: "${raw}" is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw invalid(`${field}: "${raw}" must be http(s)`);
  return u;
}

export function translateTrust(msg: TrustBundle): TrustIR {
  httpUrl('TrustBundle.issuer', msg.issuer);
  let jwks: { keys?: unknown };
  try {
    jwks = JSON.parse(msg.jwksJson) as { keys?: unknown };
  } catch {
    throw invalid('TrustBundle.jwks_json is not valid JSON');
  }
  if (!jwks || !Array.isArray(jwks.keys) || jwks.keys.length === 0) {
    throw invalid('TrustBundle.jwks_json must hold a non-empty "keys" array');
  }
  const keys: Record<string, unknown>[] = jwks.keys;
  for (const key of keys) {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) {
      throw invalid('TrustBundle.jwks_json: every key must be a JSON object');
    }
    if ('d' in key) throw invalid('TrustBundle.jwks_json must hold public keys only');
    if (key.kty !== 'EC' || key.crv !== 'P-256')
      throw invalid('TrustBundle.jwks_json: only EC P-256 (ES256) keys');
  }
  let keySet: Es256KeySet;
  try {
    keySet = importEs256Jwks({ keys });
  } catch (err) {
    throw invalid(`TrustBundle.jwks_json: ${(err as Error).message}`);
  }
  return { issuer: msg.issuer, keys: keySet, apiKeys: translateApiKeys(msg) };
}

function translateApiKeys(msg: TrustBundle): Map<string, ApiKeyIR> {
  const out = new Map<string, ApiKeyIR>();
  msg.apiKeys.forEach((k, i) => {
    const where = `TrustBundle.api_keys[${i}]`;
    if (!/^[a-z0-9]{16}$/.test(k.id)) throw invalid(`${where}.id must be 16 characters [a-z0-9]`);
    if (out.has(k.id)) throw invalid(`${where}.id "${k.id}" appears twice`);
    if (k.sha256.length !== 32) throw invalid(`${where}.sha256 must be 32 bytes`);
    if (!k.user) throw invalid(`${where}.user is required`);
    if (!k.expiresAt) throw invalid(`${where}.expires_at is required`);
    if (k.groups.some((g) => !g)) throw invalid(`${where}.groups: empty group name`);
    out.set(k.id, {
      id: k.id,
      sha256: Buffer.from(k.sha256),
      user: k.user,
      groups: [...k.groups],
      expiresAtMs: timestampMs(k.expiresAt),
    });
  });
  return out;
}

export function translateUpstream(msg: Upstream, expectedServer: string): UpstreamIR {
  if (msg.server !== expectedServer) {
    throw invalid(`Upstream.server is "${msg.server}" but this proxy fronts "${expectedServer}"`);
  }
  const u = httpUrl('Upstream.resource_uri', msg.resourceUri);
  // Not u.search/u.hash: an empty "?" or "#" leaves them empty but stays in the URI (the token audience).
  if (/[?#]/.test(u.href)) throw invalid('Upstream.resource_uri must have no query or fragment');
  for (const as of msg.authorizationServers) httpUrl('Upstream.authorization_servers', as);
  for (const scope of msg.requiredScopes) {
    // RFC 6749 §3.3 scope-token: it must survive being quoted in a WWW-Authenticate header.
    if (!/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(scope))
      throw invalid(`Upstream.required_scopes: "${scope}" is not a valid scope token`);
  }
  const path = u.pathname === '/' ? '' : u.pathname.replace(/\/$/, '');
  const metadataPath = `/.well-known/oauth-protected-resource${path}`;
  return {
    server: msg.server,
    resourceUri: msg.resourceUri,
    endpointPath: u.pathname,
    metadataPath,
    metadataUrl: `${u.origin}${metadataPath}`,
    authorizationServers: [...msg.authorizationServers],
    scopesSupported: [...msg.scopesSupported],
    requiredScopes: [...msg.requiredScopes],
    requestTimeoutMs: msg.requestTimeoutMs || 60_000,
  };
}

export function translateAudit(msg: AuditSettings): AuditIR {
  if (msg.batchMaxEvents < 1 || msg.batchMaxEvents > 10_000) {
    throw invalid(`AuditSettings.batch_max_events ${msg.batchMaxEvents} is outside 1..10000`);
  }
  if (msg.flushIntervalMs < 10 || msg.flushIntervalMs > 60_000) {
    throw invalid(`AuditSettings.flush_interval_ms ${msg.flushIntervalMs} is outside 10..60000`);
  }
  return { batchMaxEvents: msg.batchMaxEvents, flushIntervalMs: msg.flushIntervalMs };
}

export type TranslatedPart =
  | { kind: 'trust'; value: TrustIR }
  | { kind: 'upstream'; value: UpstreamIR }
  | { kind: 'policy'; value: PolicyIR }
  | { kind: 'audit'; value: AuditIR };

/**
 * Validates and compiles one discovery response.
 *
 * @throws TesseraError `TESSERA_CONFIG_INVALID` naming the field that is wrong.
 */
export function translateResponse(response: DiscoveryResponse, server: string): TranslatedPart {
  const kind = kindOfTypeUrl(response.typeUrl);
  switch (kind) {
    case 'trust':
      return { kind, value: translateTrust(single(response, kind, decodeTrustBundle)) };
    case 'upstream':
      return { kind, value: translateUpstream(single(response, kind, decodeUpstream), server) };
    case 'policy':
      return { kind, value: translatePolicy(single(response, kind, decodeServerPolicy), server) };
    case 'audit':
      return { kind, value: translateAudit(single(response, kind, decodeAuditSettings)) };
    default:
      throw invalid(`unknown type_url "${response.typeUrl}"`);
  }
}
