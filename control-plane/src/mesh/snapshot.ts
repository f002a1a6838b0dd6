/**
 * Builds the configuration one proxy receives: pure translation of a server row plus the trust
 * material and mesh settings into discovery resources, each with a content-hash version.
 * Types come out in dependency order: keys → upstream → policy → audit.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { create, type DescMessage, type MessageShape, toBinary } from '@bufbuild/protobuf';
import { anyPack, timestampFromDate } from '@bufbuild/protobuf/wkt';
import {
  ApiKeySchema,
  AuditSettingsSchema,
  GrantSchema,
  ServerPolicySchema,
  TrustBundleSchema,
  UpstreamSchema,
} from '@tessera/api/mesh/v1/config';
import { type Resource, ResourceSchema } from '@tessera/api/mesh/v1/discovery';
import type { JSONWebKeySet } from 'jose';
import type { PolicyInput } from '../catalog/policy-input.ts';
import type { ApiKeyRow } from '../db/entities/api-key.ts';
import type { McpServerRow } from '../db/entities/mcp-server.ts';
import { policyFields } from './policy-fields.ts';

/** The one scope every MCP server asks for today: "may call this server's MCP endpoint". */
export const MCP_SCOPE = 'mcp';

/** A server's row with its filter secrets opened (`catalog/filter-secrets.ts`). */
export type SnapshotServer = Omit<McpServerRow, 'policy'> & { policy: Partial<PolicyInput> };

export interface SnapshotInputs {
  server: SnapshotServer;
  issuer: string;
  jwks: JSONWebKeySet;
  audit: { batchMaxEvents: number; flushIntervalMs: number };
  requestTimeoutMs: number;
  /** Active API keys scoped to this server (hashes only). */
  apiKeys?: Pick<ApiKeyRow, 'id' | 'secretHash' | 'userName' | 'groups' | 'expiresAt'>[];
}

/** The complete set of one resource type for one proxy. */
export interface TypeSnapshot {
  typeUrl: string;
  version: string;
  resources: Resource[];
}

export function typeUrlOf(schema: DescMessage): string {
  return `type.googleapis.com/${schema.typeName}`;
}

function hash(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex').slice(0, 16);
}

function single<Desc extends DescMessage>(
  schema: Desc,
  name: string,
  value: MessageShape<Desc>,
): TypeSnapshot {
  const bytes = toBinary(schema, value);
  const version = hash(bytes);
  const resource = create(ResourceSchema, { name, version, resource: anyPack(schema, value) });
  return { typeUrl: typeUrlOf(schema), version, resources: [resource] };
}

export function buildSnapshot(i: SnapshotInputs): TypeSnapshot[] {
  const s = i.server;
  // Sorting makes the hash independent of the order keys and grants were stored in.
  const jwks = { keys: [...i.jwks.keys].sort((a, b) => String(a.kid).localeCompare(String(b.kid))) };
  return [
    single(
      TrustBundleSchema,
      'trust',
      create(TrustBundleSchema, {
        issuer: i.issuer,
        jwksJson: JSON.stringify(jwks),
        apiKeys: [...(i.apiKeys ?? [])]
          .sort((a, b) => a.id.localeCompare(b.id))
          .map((k) =>
            create(ApiKeySchema, {
              id: k.id,
              sha256: k.secretHash,
              user: k.userName,
              groups: [...k.groups].sort(),
              expiresAt: timestampFromDate(k.expiresAt),
            }),
          ),
      }),
    ),
    single(
      UpstreamSchema,
      s.name,
      create(UpstreamSchema, {
        server: s.name,
        resourceUri: s.resourceUri,
        authorizationServers: [i.issuer],
        scopesSupported: [MCP_SCOPE],
        requiredScopes: [MCP_SCOPE],
        requestTimeoutMs: i.requestTimeoutMs,
      }),
    ),
    single(
      ServerPolicySchema,
      s.name,
      create(ServerPolicySchema, {
        server: s.name,
        grants: [create(GrantSchema, { users: [...s.grantUsers].sort(), groups: [...s.grantGroups].sort() })],
        ...policyFields(s.policy),
      }),
    ),
    single(
      AuditSettingsSchema,
      'audit',
      create(AuditSettingsSchema, {
        batchMaxEvents: i.audit.batchMaxEvents,
        flushIntervalMs: i.audit.flushIntervalMs,
      }),
    ),
  ];
}
