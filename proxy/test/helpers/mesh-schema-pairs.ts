/**
 * Each hand-written mesh message table (src/mesh-api/protobuf/mesh-specs.ts) with the protobuf-es
 * descriptor generated from api/proto for the same message: the codec tests compare the two.
 */
import type { DescMessage } from '@bufbuild/protobuf';
import { AnySchema, TimestampSchema } from '@bufbuild/protobuf/wkt';
import { IngestRequestEncodedSchema, IngestResponseSchema } from '@tessera/api/mesh/v1/audit';
import {
  ApiKeySchema,
  AuditBodiesSchema,
  AuditSettingsSchema,
  ClaimMatcherSchema,
  FilterSchema,
  GrantSchema,
  PrincipalsSchema,
  RateLimitsSchema,
  RuleSchema,
  ServerPolicySchema,
  TokenBucketSchema,
  TrustBundleSchema,
  UpstreamSchema,
} from '@tessera/api/mesh/v1/config';
import {
  CredentialRequestSchema,
  CredentialResponseSchema,
  HeaderSchema,
} from '@tessera/api/mesh/v1/credentials';
import {
  DiscoveryRequestSchema,
  DiscoveryResponseSchema,
  HeartbeatSchema,
  NodeSchema,
  ResourceSchema,
  StatusSchema,
} from '@tessera/api/mesh/v1/discovery';
import * as spec from '../../src/mesh-api/protobuf/mesh-specs.ts';
import type { MessageSpec } from '../../src/mesh-api/protobuf/message-spec.ts';

export const schemaPairs: ReadonlyArray<readonly [MessageSpec, DescMessage]> = [
  [spec.Timestamp, TimestampSchema],
  [spec.Any, AnySchema],
  [spec.Node, NodeSchema],
  [spec.Status, StatusSchema],
  [spec.DiscoveryRequest, DiscoveryRequestSchema],
  [spec.Resource, ResourceSchema],
  [spec.Heartbeat, HeartbeatSchema],
  [spec.DiscoveryResponse, DiscoveryResponseSchema],
  [spec.ApiKey, ApiKeySchema],
  [spec.TrustBundle, TrustBundleSchema],
  [spec.Upstream, UpstreamSchema],
  [spec.Grant, GrantSchema],
  [spec.ClaimMatcher, ClaimMatcherSchema],
  [spec.Principals, PrincipalsSchema],
  [spec.Rule, RuleSchema],
  [spec.TokenBucket, TokenBucketSchema],
  [spec.RateLimits, RateLimitsSchema],
  [spec.Filter, FilterSchema],
  [spec.AuditBodies, AuditBodiesSchema],
  [spec.ServerPolicy, ServerPolicySchema],
  [spec.AuditSettings, AuditSettingsSchema],
  [spec.IngestRequestEncoded, IngestRequestEncodedSchema],
  [spec.IngestResponse, IngestResponseSchema],
  [spec.CredentialRequest, CredentialRequestSchema],
  [spec.Header, HeaderSchema],
  [spec.CredentialResponse, CredentialResponseSchema],
];
