/**
 * Encoders and decoders for the tessera.mesh.v1 messages the proxy exchanges with the control plane,
 * written by hand so that the proxy does not load protobuf-es at run time: `@bufbuild/protobuf`,
 * `@connectrpc/*` and the generated `@tessera/api` code add about 15 MB of private memory (RssAnon) to
 * a 16 MB idle proxy. Types still come from the generated code, as type-only imports (erased).
 *
 * Decoded messages have exactly the shape protobuf-es's `fromBinary` gives (`$typeName`, proto3
 * defaults, absent message fields left out, bigint for 64-bit integers, `bytes` as views into the
 * input), except that unknown fields are skipped rather than kept in `$unknown`. Encoders write the
 * bytes of protobuf-es's `toBinary`. `api/proto` is the source of truth: the tests compare the field
 * tables (mesh-specs.ts) with the generated descriptors and both codecs with protobuf-es.
 *
 * @module
 */
import type { Timestamp } from '@bufbuild/protobuf/wkt';
import type { IngestResponse } from '@tessera/api/mesh/v1/audit';
import type { AuditSettings, ServerPolicy, TrustBundle, Upstream } from '@tessera/api/mesh/v1/config';
import type { CredentialResponse } from '@tessera/api/mesh/v1/credentials';
import type { DiscoveryResponse } from '@tessera/api/mesh/v1/discovery';
import * as spec from './mesh-specs.ts';
import { decodeMessage, encodeMessage } from './message-codec.ts';
import type { MessageSpec } from './message-spec.ts';

export { ProtobufDecodeError } from './protobuf-decode-error.ts';

/** `type_url`s of the resource types (and the heartbeat) on the discovery stream. */
export const typeUrls = {
  TrustBundle: 'type.googleapis.com/tessera.mesh.v1.TrustBundle',
  Upstream: 'type.googleapis.com/tessera.mesh.v1.Upstream',
  ServerPolicy: 'type.googleapis.com/tessera.mesh.v1.ServerPolicy',
  AuditSettings: 'type.googleapis.com/tessera.mesh.v1.AuditSettings',
  Heartbeat: 'type.googleapis.com/tessera.mesh.v1.Heartbeat',
} as const;

/** A `tessera.mesh.v1.DiscoveryRequest` to encode; absent fields are their defaults. */
export interface DiscoveryRequestInit {
  node?: {
    id?: string;
    namespace?: string;
    serviceAccount?: string;
    mcpServer?: string;
    role?: string;
    proxyVersion?: string;
    metadata?: Record<string, string>;
  };
  typeUrl?: string;
  versionInfo?: string;
  resourceNames?: string[];
  responseNonce?: string;
  /** Present means NACK. */
  errorDetail?: { code: number; message: string };
  initialVersions?: Record<string, string>;
}

// Every decoder throws ProtobufDecodeError on bytes that are not a valid encoding.

const decoder =
  <T>(message: MessageSpec) =>
  (bytes: Uint8Array): T =>
    decodeMessage(message, bytes) as T;

export const decodeDiscoveryResponse = decoder<DiscoveryResponse>(spec.DiscoveryResponse);
// The resources: each decodes `Any.value` of a resource whose type URL is the one in `typeUrls`.
export const decodeTrustBundle = decoder<TrustBundle>(spec.TrustBundle);
export const decodeUpstream = decoder<Upstream>(spec.Upstream);
export const decodeServerPolicy = decoder<ServerPolicy>(spec.ServerPolicy);
export const decodeAuditSettings = decoder<AuditSettings>(spec.AuditSettings);
export const decodeIngestResponse = decoder<IngestResponse>(spec.IngestResponse);
export const decodeCredentialResponse = decoder<CredentialResponse>(spec.CredentialResponse);

// Every encoder throws TypeError for a value that does not fit its field (a bug of the caller).

export function encodeDiscoveryRequest(msg: DiscoveryRequestInit): Uint8Array {
  return encodeMessage(spec.DiscoveryRequest, msg);
}

/**
 * `tessera.mesh.v1.IngestRequestEncoded`: `events` are encoded AuditEvents, copied as they are into
 * one buffer of the exact size.
 */
export function encodeIngestRequestEncoded(msg: {
  batchId: string;
  events: readonly Uint8Array[];
}): Uint8Array {
  return encodeMessage(spec.IngestRequestEncoded, msg);
}

export function encodeCredentialRequest(msg: { server: string; user: string }): Uint8Array {
  return encodeMessage(spec.CredentialRequest, msg);
}

/** Milliseconds since the epoch, as protobuf-es's `timestampMs` computes them. */
export function timestampMs(ts: Timestamp): number {
  return Number(ts.seconds) * 1000 + Math.round(ts.nanos / 1_000_000);
}
