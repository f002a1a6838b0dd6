import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import {
  AuditSettingsSchema,
  ServerPolicySchema,
  TrustBundleSchema,
  UpstreamSchema,
} from '@tessera/api/mesh/v1/config';
import type { JWK } from 'jose';

import {
  buildSnapshot,
  type SnapshotInputs,
  type SnapshotServer,
  type TypeSnapshot,
  typeUrlOf,
} from './snapshot.ts';

const ISSUER = 'http://127.0.0.1:8080';
const KEY_A: JWK = { kty: 'EC', crv: 'P-256', x: 'xa', y: 'ya', kid: 'a', alg: 'ES256', use: 'sig' };
const KEY_B: JWK = { kty: 'EC', crv: 'P-256', x: 'xb', y: 'yb', kid: 'b', alg: 'ES256', use: 'sig' };

function row(overrides: Partial<SnapshotServer> = {}): SnapshotServer {
  return {
    name: 'github',
    kind: 'http',
    command: null,
    args: [],
    url: 'http://127.0.0.1:8080/mcp',
    resourceUri: 'http://127.0.0.1:15001/mcp',
    localPort: 15001,
    grantUsers: ['ada@example.com', 'bob@example.com'],
    grantGroups: ['eng', 'ops'],
    policy: {},
    createdAt: new Date('2025-01-01T00:00:00Z'),
    updatedAt: new Date('2025-01-02T00:00:00Z'),
    ...overrides,
  };
}

function inputs(overrides: Partial<SnapshotInputs> = {}): SnapshotInputs {
  return {
    server: row(),
    issuer: ISSUER,
    jwks: { keys: [KEY_A, KEY_B] },
    audit: { batchMaxEvents: 256, flushIntervalMs: 1000 },
    requestTimeoutMs: 30_000,
    ...overrides,
  };
}

function versions(snaps: TypeSnapshot[]): string[] {
  return snaps.map((s) => s.version);
}

function typeName(url: string): string {
  return url.slice(url.lastIndexOf('.') + 1);
}

describe('buildSnapshot', () => {
  test('emits the four types in dependency order: trust, upstream, policy, audit', () => {
    const snaps = buildSnapshot(inputs());
    assert.deepEqual(
      snaps.map((s) => s.typeUrl),
      [
        'type.googleapis.com/tessera.mesh.v1.TrustBundle',
        'type.googleapis.com/tessera.mesh.v1.Upstream',
        'type.googleapis.com/tessera.mesh.v1.ServerPolicy',
        'type.googleapis.com/tessera.mesh.v1.AuditSettings',
      ],
    );
    assert.equal(typeUrlOf(UpstreamSchema), snaps[1]!.typeUrl);
  });

  test('each type holds one named resource, versioned like its set, packed as its type', () => {
    for (const snap of buildSnapshot(inputs())) {
      assert.equal(snap.resources.length, 1, typeName(snap.typeUrl));
      const r = snap.resources[0]!;
      assert.equal(r.version, snap.version);
      assert.equal(r.resource?.typeUrl, snap.typeUrl);
      assert.match(snap.version, /^[0-9a-f]{16}$/);
    }
    assert.deepEqual(
      buildSnapshot(inputs()).map((s) => s.resources[0]!.name),
      ['trust', 'github', 'github', 'audit'],
    );
  });

  test('resources unpack to the expected content', () => {
    const [trust, upstream, policy, audit] = buildSnapshot(inputs());
    const t = anyUnpack(trust!.resources[0]!.resource!, TrustBundleSchema)!;
    assert.equal(t.issuer, ISSUER);
    assert.deepEqual(JSON.parse(t.jwksJson), { keys: [KEY_A, KEY_B] });

    const u = anyUnpack(upstream!.resources[0]!.resource!, UpstreamSchema)!;
    assert.equal(u.server, 'github');
    assert.equal(u.resourceUri, 'http://127.0.0.1:15001/mcp');
    assert.deepEqual(u.authorizationServers, [ISSUER]);
    assert.deepEqual(u.scopesSupported, ['mcp']);
    assert.deepEqual(u.requiredScopes, ['mcp'], 'tokens without the mcp scope get a step-up challenge');
    assert.equal(u.requestTimeoutMs, 30_000);

    const p = anyUnpack(policy!.resources[0]!.resource!, ServerPolicySchema)!;
    assert.equal(p.server, 'github');
    assert.equal(p.grants.length, 1);
    assert.deepEqual(p.grants[0]!.users, ['ada@example.com', 'bob@example.com']);
    assert.deepEqual(p.grants[0]!.groups, ['eng', 'ops']);

    const a = anyUnpack(audit!.resources[0]!.resource!, AuditSettingsSchema)!;
    assert.equal(a.batchMaxEvents, 256);
    assert.equal(a.flushIntervalMs, 1000);
  });

  test('versions are stable for equal input', () => {
    assert.deepEqual(versions(buildSnapshot(inputs())), versions(buildSnapshot(inputs())));
  });

  test('versions ignore timestamps and how the server is reached', () => {
    const other = inputs({
      server: row({
        updatedAt: new Date(),
        kind: 'stdio',
        command: 'npx',
        args: ['x'],
        url: null,
        localPort: 1,
      }),
    });
    assert.deepEqual(versions(buildSnapshot(other)), versions(buildSnapshot(inputs())));
  });

  test('versions do not depend on the order of grants', () => {
    const shuffled = inputs({
      server: row({ grantUsers: ['bob@example.com', 'ada@example.com'], grantGroups: ['ops', 'eng'] }),
    });
    assert.deepEqual(versions(buildSnapshot(shuffled)), versions(buildSnapshot(inputs())));
  });

  test('versions do not depend on the order of JWKS keys', () => {
    const reversed = inputs({ jwks: { keys: [KEY_B, KEY_A] } });
    assert.deepEqual(versions(buildSnapshot(reversed)), versions(buildSnapshot(inputs())));
    const t = anyUnpack(buildSnapshot(reversed)[0]!.resources[0]!.resource!, TrustBundleSchema)!;
    assert.deepEqual(
      JSON.parse(t.jwksJson).keys.map((k: JWK) => k.kid),
      ['a', 'b'],
    );
  });

  test('the input rows and key set are not modified', () => {
    const i = inputs({ server: row({ grantUsers: ['z', 'a'] }), jwks: { keys: [KEY_B, KEY_A] } });
    buildSnapshot(i);
    assert.deepEqual(i.server.grantUsers, ['z', 'a']);
    assert.deepEqual(
      i.jwks.keys.map((k) => k.kid),
      ['b', 'a'],
    );
  });

  test('changing grants changes only the policy version', () => {
    const before = versions(buildSnapshot(inputs()));
    const after = versions(buildSnapshot(inputs({ server: row({ grantUsers: ['ada@example.com'] }) })));
    assert.deepEqual([after[0], after[1], after[3]], [before[0], before[1], before[3]]);
    assert.notEqual(after[2], before[2]);
  });

  test('rules, limits, filters and body capture travel in the policy, in order', () => {
    const policy = {
      rules: [
        { id: 'no-delete', effect: 'DENY' as const, methods: [], targets: ['delete_*'], condition: '' },
        {
          id: 'cel',
          effect: 'ALLOW' as const,
          methods: ['tools/call'],
          targets: [],
          condition: 'claims.x == "y"',
        },
      ],
      rateLimits: { perTool: { capacity: 5, refillPerSecond: 1 } },
      filters: [
        {
          name: 'dlp',
          url: 'http://127.0.0.1:9999/hook',
          phase: 'request' as const,
          methods: [],
          targets: [],
          timeoutMs: 500,
          mayMutate: true,
          hmacSecret: 's'.repeat(16),
        },
      ],
      auditBodies: { enabled: true, maxBytes: 1024 },
    };
    const snaps = buildSnapshot(inputs({ server: row({ policy }) }));
    const p = anyUnpack(snaps[2]!.resources[0]!.resource!, ServerPolicySchema)!;
    assert.deepEqual(
      p.rules.map((r) => [r.id, r.effect, r.targets, r.condition]),
      [
        ['no-delete', 'DENY', ['delete_*'], ''],
        ['cel', 'ALLOW', [], 'claims.x == "y"'],
      ],
    );
    assert.equal(p.rateLimits?.perUser, undefined);
    assert.equal(p.rateLimits?.perTool?.capacity, 5);
    assert.equal(p.filters[0]?.hmacSecret, 's'.repeat(16));
    assert.equal(p.filters[0]?.mayMutate, true);
    assert.deepEqual([p.auditBodies?.enabled, p.auditBodies?.maxBytes], [true, 1024]);
    const plain = anyUnpack(buildSnapshot(inputs())[2]!.resources[0]!.resource!, ServerPolicySchema)!;
    assert.equal(plain.auditBodies, undefined);
    assert.notEqual(snaps[2]!.version, buildSnapshot(inputs())[2]!.version);
  });

  test('moving a name from users to groups changes the policy version', () => {
    const a = buildSnapshot(inputs({ server: row({ grantUsers: ['x'], grantGroups: [] }) }));
    const b = buildSnapshot(inputs({ server: row({ grantUsers: [], grantGroups: ['x'] }) }));
    assert.notEqual(a[2]!.version, b[2]!.version);
  });

  test('changing the resource URI changes only the upstream version', () => {
    const before = versions(buildSnapshot(inputs()));
    const after = versions(
      buildSnapshot(inputs({ server: row({ resourceUri: 'http://127.0.0.1:15009/mcp' }) })),
    );
    assert.deepEqual([after[0], after[2], after[3]], [before[0], before[2], before[3]]);
    assert.notEqual(after[1], before[1]);
  });

  test('changing the request timeout changes only the upstream version', () => {
    const before = versions(buildSnapshot(inputs()));
    const after = versions(buildSnapshot(inputs({ requestTimeoutMs: 1000 })));
    assert.deepEqual([after[0], after[2], after[3]], [before[0], before[2], before[3]]);
    assert.notEqual(after[1], before[1]);
  });

  test('rotating keys changes only the trust version', () => {
    const before = versions(buildSnapshot(inputs()));
    const after = versions(buildSnapshot(inputs({ jwks: { keys: [KEY_A] } })));
    assert.deepEqual(after.slice(1), before.slice(1));
    assert.notEqual(after[0], before[0]);
  });

  test('changing the issuer changes trust and upstream (it is the authorization server)', () => {
    const before = versions(buildSnapshot(inputs()));
    const after = versions(buildSnapshot(inputs({ issuer: 'https://tessera.example.com' })));
    assert.notEqual(after[0], before[0]);
    assert.notEqual(after[1], before[1]);
    assert.deepEqual(after.slice(2), before.slice(2));
  });

  test('changing audit settings changes only the audit version', () => {
    const before = versions(buildSnapshot(inputs()));
    const after = versions(buildSnapshot(inputs({ audit: { batchMaxEvents: 1, flushIntervalMs: 1000 } })));
    assert.deepEqual(after.slice(0, 3), before.slice(0, 3));
    assert.notEqual(after[3], before[3]);
  });

  test('servers with equal content but different names get different upstream and policy versions', () => {
    const a = versions(buildSnapshot(inputs()));
    const b = versions(buildSnapshot(inputs({ server: row({ name: 'gitlab' }) })));
    assert.equal(a[0], b[0]);
    assert.notEqual(a[1], b[1]);
    assert.notEqual(a[2], b[2]);
    assert.equal(a[3], b[3]);
  });
});
