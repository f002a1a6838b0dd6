/**
 * Field tables of the tessera.mesh.v1 messages the proxy sends or receives, and of the well-known
 * types they use. `api/proto/tessera/mesh/v1/*.proto` is the source of truth: mesh-specs.test.ts
 * compares every table here with protobuf-es's generated descriptors.
 *
 * @module
 */
import { type FieldSpec, type MessageSpec, messageSpec, Scalar } from './message-spec.ts';

const { STRING, BYTES, UINT32, INT32, INT64, BOOL, DOUBLE } = Scalar;

const str = (no: number, name: string): FieldSpec => ({ no, name, kind: 'scalar', scalar: STRING });
const strings = (no: number, name: string): FieldSpec => ({ no, name, kind: 'list', scalar: STRING });
const u32 = (no: number, name: string): FieldSpec => ({ no, name, kind: 'scalar', scalar: UINT32 });
const msg = (no: number, name: string, message: MessageSpec): FieldSpec => ({
  no,
  name,
  kind: 'message',
  message,
});
const msgs = (no: number, name: string, message: MessageSpec): FieldSpec => ({
  no,
  name,
  kind: 'list',
  message,
});

// google.protobuf
export const Timestamp = messageSpec('google.protobuf.Timestamp', [
  { no: 1, name: 'seconds', kind: 'scalar', scalar: INT64 },
  { no: 2, name: 'nanos', kind: 'scalar', scalar: INT32 },
]);
export const Any = messageSpec('google.protobuf.Any', [
  str(1, 'typeUrl'),
  { no: 2, name: 'value', kind: 'scalar', scalar: BYTES },
]);

// discovery.proto
export const Node = messageSpec('tessera.mesh.v1.Node', [
  str(1, 'id'),
  str(2, 'namespace'),
  str(3, 'serviceAccount'),
  str(4, 'mcpServer'),
  str(5, 'role'),
  str(6, 'proxyVersion'),
  { no: 7, name: 'metadata', kind: 'map', scalar: STRING },
]);
export const Status = messageSpec('tessera.mesh.v1.Status', [
  { no: 1, name: 'code', kind: 'scalar', scalar: INT32 },
  str(2, 'message'),
]);
export const DiscoveryRequest = messageSpec('tessera.mesh.v1.DiscoveryRequest', [
  msg(1, 'node', Node),
  str(2, 'typeUrl'),
  str(3, 'versionInfo'),
  strings(4, 'resourceNames'),
  str(5, 'responseNonce'),
  msg(6, 'errorDetail', Status),
  { no: 7, name: 'initialVersions', kind: 'map', scalar: STRING },
]);
export const Resource = messageSpec('tessera.mesh.v1.Resource', [
  str(1, 'name'),
  str(2, 'version'),
  msg(3, 'resource', Any),
]);
export const Heartbeat = messageSpec('tessera.mesh.v1.Heartbeat', []);
export const DiscoveryResponse = messageSpec('tessera.mesh.v1.DiscoveryResponse', [
  str(1, 'typeUrl'),
  str(2, 'versionInfo'),
  msgs(3, 'resources', Resource),
  str(4, 'nonce'),
  str(5, 'controlPlaneId'),
]);

// config.proto
export const ApiKey = messageSpec('tessera.mesh.v1.ApiKey', [
  str(1, 'id'),
  { no: 2, name: 'sha256', kind: 'scalar', scalar: BYTES },
  str(3, 'user'),
  strings(4, 'groups'),
  msg(5, 'expiresAt', Timestamp),
]);
export const TrustBundle = messageSpec('tessera.mesh.v1.TrustBundle', [
  str(1, 'issuer'),
  str(2, 'jwksJson'),
  msgs(3, 'apiKeys', ApiKey),
]);
export const Upstream = messageSpec('tessera.mesh.v1.Upstream', [
  str(1, 'server'),
  str(2, 'resourceUri'),
  strings(3, 'authorizationServers'),
  strings(4, 'scopesSupported'),
  u32(5, 'requestTimeoutMs'),
  strings(6, 'requiredScopes'),
]);
export const Grant = messageSpec('tessera.mesh.v1.Grant', [strings(1, 'users'), strings(2, 'groups')]);
export const ClaimMatcher = messageSpec('tessera.mesh.v1.ClaimMatcher', [
  str(1, 'claim'),
  strings(2, 'values'),
]);
export const Principals = messageSpec('tessera.mesh.v1.Principals', [
  strings(1, 'users'),
  strings(2, 'groups'),
  strings(3, 'clientIds'),
  msgs(4, 'claims', ClaimMatcher),
]);
export const Rule = messageSpec('tessera.mesh.v1.Rule', [
  str(1, 'id'),
  str(2, 'effect'),
  msg(3, 'principals', Principals),
  strings(4, 'methods'),
  strings(5, 'targets'),
  str(6, 'condition'),
]);
export const TokenBucket = messageSpec('tessera.mesh.v1.TokenBucket', [
  u32(1, 'capacity'),
  { no: 2, name: 'refillPerSecond', kind: 'scalar', scalar: DOUBLE },
]);
export const RateLimits = messageSpec('tessera.mesh.v1.RateLimits', [
  msg(1, 'perUser', TokenBucket),
  msg(2, 'perTool', TokenBucket),
]);
export const Filter = messageSpec('tessera.mesh.v1.Filter', [
  str(1, 'name'),
  str(2, 'url'),
  str(3, 'phase'),
  strings(4, 'methods'),
  strings(5, 'targets'),
  u32(6, 'timeoutMs'),
  { no: 7, name: 'mayMutate', kind: 'scalar', scalar: BOOL },
  str(8, 'hmacSecret'),
]);
export const AuditBodies = messageSpec('tessera.mesh.v1.AuditBodies', [
  { no: 1, name: 'enabled', kind: 'scalar', scalar: BOOL },
  u32(2, 'maxBytes'),
]);
export const ServerPolicy = messageSpec('tessera.mesh.v1.ServerPolicy', [
  str(1, 'server'),
  msgs(2, 'grants', Grant),
  msgs(3, 'rules', Rule),
  msg(4, 'rateLimits', RateLimits),
  msgs(5, 'filters', Filter),
  msg(6, 'auditBodies', AuditBodies),
]);
export const AuditSettings = messageSpec('tessera.mesh.v1.AuditSettings', [
  u32(1, 'batchMaxEvents'),
  u32(2, 'flushIntervalMs'),
]);

// audit.proto (the proxy sends events already encoded, so AuditEvent itself is not here)
export const IngestRequestEncoded = messageSpec('tessera.mesh.v1.IngestRequestEncoded', [
  str(1, 'batchId'),
  { no: 2, name: 'events', kind: 'list', scalar: BYTES },
]);
export const IngestResponse = messageSpec('tessera.mesh.v1.IngestResponse', [
  str(1, 'batchId'),
  u32(2, 'stored'),
]);

// credentials.proto
export const CredentialRequest = messageSpec('tessera.mesh.v1.CredentialRequest', [
  str(1, 'server'),
  str(2, 'user'),
]);
export const Header = messageSpec('tessera.mesh.v1.Header', [str(1, 'name'), str(2, 'value')]);
export const CredentialResponse = messageSpec('tessera.mesh.v1.CredentialResponse', [
  msgs(1, 'headers', Header),
  msg(2, 'expiresAt', Timestamp),
  str(3, 'connectUrl'),
]);
