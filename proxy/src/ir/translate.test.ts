import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { create, type DescMessage, type MessageInitShape, toBinary } from '@bufbuild/protobuf';
import { type Any, AnySchema, anyPack, DurationSchema } from '@bufbuild/protobuf/wkt';
import {
  AuditSettingsSchema,
  GrantSchema,
  ServerPolicySchema,
  TrustBundleSchema,
  UpstreamSchema,
} from '@tessera/api/mesh/v1/config';
import {
  type DiscoveryResponse,
  DiscoveryResponseSchema,
  ResourceSchema,
} from '@tessera/api/mesh/v1/discovery';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { TesseraError } from '../errors.ts';
import { verifyEs256Jwt } from '../policies/es256-jwt.ts';
import { kindOfTypeUrl, translateResponse, typeUrls } from './translate.ts';

const SERVER = 'github';
const ISSUER = 'http://127.0.0.1:8080';

const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
const privateJwk: JWK = { ...(await exportJWK(privateKey)), kid: 'k1' };

function packed<Desc extends DescMessage>(schema: Desc, init: MessageInitShape<Desc>): Any {
  return anyPack(schema, create(schema, init));
}

/** A response of `typeUrl` holding `anys`, one resource each. */
function response(typeUrl: string, anys: Array<Any | undefined>): DiscoveryResponse {
  return create(DiscoveryResponseSchema, {
    typeUrl,
    versionInfo: 'v1',
    nonce: 'n1',
    resources: anys.map((resource, i) => create(ResourceSchema, { name: `r${i}`, version: 'v1', resource })),
  });
}

function trust(init: { issuer?: string; jwksJson?: string } = {}): DiscoveryResponse {
  return response(typeUrls.trust, [
    packed(TrustBundleSchema, { issuer: ISSUER, jwksJson: JSON.stringify({ keys: [publicJwk] }), ...init }),
  ]);
}

function upstream(init: MessageInitShape<typeof UpstreamSchema> = {}): DiscoveryResponse {
  return response(typeUrls.upstream, [
    packed(UpstreamSchema, {
      server: SERVER,
      resourceUri: 'http://127.0.0.1:15001/mcp',
      authorizationServers: [ISSUER],
      scopesSupported: ['mcp'],
      requestTimeoutMs: 30_000,
      ...init,
    }),
  ]);
}

function policy(grants: Array<{ users?: string[]; groups?: string[] }>, server = SERVER): DiscoveryResponse {
  return response(typeUrls.policy, [
    packed(ServerPolicySchema, { server, grants: grants.map((g) => create(GrantSchema, g)) }),
  ]);
}

function audit(batchMaxEvents: number, flushIntervalMs: number): DiscoveryResponse {
  return response(typeUrls.audit, [packed(AuditSettingsSchema, { batchMaxEvents, flushIntervalMs })]);
}

/** Asserts `fn` throws TESSERA_CONFIG_INVALID with a message matching `message`. */
function invalid(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TesseraError, `expected a TesseraError, got ${String(err)}`);
    assert.equal(err.code, 'TESSERA_CONFIG_INVALID');
    assert.match(err.message, message);
    return true;
  });
}

describe('type URLs', () => {
  test('name the four configuration messages', () => {
    assert.deepEqual(typeUrls, {
      trust: 'type.googleapis.com/tessera.mesh.v1.TrustBundle',
      upstream: 'type.googleapis.com/tessera.mesh.v1.Upstream',
      policy: 'type.googleapis.com/tessera.mesh.v1.ServerPolicy',
      audit: 'type.googleapis.com/tessera.mesh.v1.AuditSettings',
    });
    assert.equal(`type.googleapis.com/${TrustBundleSchema.typeName}`, typeUrls.trust);
  });

  test('map back to kinds', () => {
    assert.equal(kindOfTypeUrl(typeUrls.policy), 'policy');
    assert.equal(kindOfTypeUrl('type.googleapis.com/tessera.mesh.v1.Grant'), undefined);
    assert.equal(kindOfTypeUrl(''), undefined);
  });
});

describe('translateResponse: valid', () => {
  test('a trust bundle becomes an issuer and a key set that verifies tokens', async () => {
    const part = translateResponse(trust(), SERVER);
    assert.equal(part.kind, 'trust');
    if (part.kind !== 'trust') return;
    assert.equal(part.value.issuer, ISSUER);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience('http://127.0.0.1:15001/mcp')
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime('1m')
      .sign(privateKey);
    const payload = verifyEs256Jwt(token, part.value.keys, {
      issuer: ISSUER,
      audience: 'http://127.0.0.1:15001/mcp',
      clockToleranceS: 5,
    });
    assert.equal(payload.iss, ISSUER);
  });

  test('a trust bundle may hold several P-256 keys (rotation)', async () => {
    const other = await exportJWK((await generateKeyPair('ES256', { extractable: true })).publicKey);
    const part = translateResponse(
      trust({ jwksJson: JSON.stringify({ keys: [publicJwk, { ...other, kid: 'k2' }] }) }),
      SERVER,
    );
    assert.equal(part.kind, 'trust');
  });

  test('an upstream derives the endpoint path and the RFC 9728 metadata location', () => {
    const part = translateResponse(upstream(), SERVER);
    assert.deepEqual(part, {
      kind: 'upstream',
      value: {
        server: SERVER,
        resourceUri: 'http://127.0.0.1:15001/mcp',
        endpointPath: '/mcp',
        metadataPath: '/.well-known/oauth-protected-resource/mcp',
        metadataUrl: 'http://127.0.0.1:15001/.well-known/oauth-protected-resource/mcp',
        authorizationServers: [ISSUER],
        scopesSupported: ['mcp'],
        requiredScopes: [],
        requestTimeoutMs: 30_000,
      },
    });
  });

  test('a root resource has its metadata at the bare well-known path', () => {
    const part = translateResponse(upstream({ resourceUri: 'http://h:1/' }), SERVER);
    assert.equal(part.kind, 'upstream');
    if (part.kind !== 'upstream') return;
    assert.equal(part.value.endpointPath, '/');
    assert.equal(part.value.metadataPath, '/.well-known/oauth-protected-resource');
    assert.equal(part.value.metadataUrl, 'http://h:1/.well-known/oauth-protected-resource');
  });

  test('a nested https resource keeps its path after the well-known prefix', () => {
    const part = translateResponse(
      upstream({ resourceUri: 'https://mcp.example.com/tenants/a/mcp' }),
      SERVER,
    );
    if (part.kind !== 'upstream') return assert.fail('not an upstream');
    assert.equal(part.value.endpointPath, '/tenants/a/mcp');
    assert.equal(
      part.value.metadataUrl,
      'https://mcp.example.com/.well-known/oauth-protected-resource/tenants/a/mcp',
    );
  });

  test('an upstream without a timeout gets 60 s', () => {
    const part = translateResponse(upstream({ requestTimeoutMs: 0 }), SERVER);
    if (part.kind !== 'upstream') return assert.fail('not an upstream');
    assert.equal(part.value.requestTimeoutMs, 60_000);
  });

  test('a policy allows the users and groups of every grant', () => {
    const part = translateResponse(
      policy([
        { users: ['a@x', 'b@x'], groups: ['eng'] },
        { users: ['a@x'], groups: ['ops', 'eng'] },
      ]),
      SERVER,
    );
    if (part.kind !== 'policy') return assert.fail('not a policy');
    const caller = (name: string, groups: string[] = []) => ({
      name,
      subject: name,
      groups,
      clientId: '',
      claims: {},
    });
    const allowed = (c: ReturnType<typeof caller>) =>
      part.value.engine.decide(c, 'tools/call', 't', undefined).effect;
    assert.equal(allowed(caller('b@x')), 'ALLOW');
    assert.equal(allowed(caller('z@x', ['ops'])), 'ALLOW');
    assert.equal(allowed(caller('z@x', ['sales'])), 'DENY');
  });

  test('a policy without grants denies everyone', () => {
    const part = translateResponse(policy([]), SERVER);
    if (part.kind !== 'policy') return assert.fail('not a policy');
    const d = part.value.engine.decide(
      { name: 'a@x', subject: 'a', groups: [], clientId: '', claims: {} },
      'initialize',
      '',
      undefined,
    );
    assert.equal(d.ruleId, 'default-deny');
  });

  test('audit settings at both ends of their ranges', () => {
    assert.deepEqual(translateResponse(audit(1, 10), SERVER), {
      kind: 'audit',
      value: { batchMaxEvents: 1, flushIntervalMs: 10 },
    });
    assert.deepEqual(translateResponse(audit(10_000, 60_000), SERVER), {
      kind: 'audit',
      value: { batchMaxEvents: 10_000, flushIntervalMs: 60_000 },
    });
  });
});

describe('translateResponse: rejections', () => {
  test('an unknown type_url', () => {
    invalid(
      () => translateResponse(response('type.googleapis.com/tessera.mesh.v1.Grant', []), SERVER),
      /unknown type_url/,
    );
    invalid(() => translateResponse(response('', []), SERVER), /unknown type_url ""/);
  });

  test('zero resources', () => {
    invalid(
      () => translateResponse(response(typeUrls.trust, []), SERVER),
      /TrustBundle: expected exactly 1 resource, got 0/,
    );
  });

  test('two resources', () => {
    const one = packed(AuditSettingsSchema, { batchMaxEvents: 1, flushIntervalMs: 10 });
    invalid(
      () => translateResponse(response(typeUrls.audit, [one, one]), SERVER),
      /AuditSettings: expected exactly 1 resource, got 2/,
    );
  });

  test('a resource without an Any', () => {
    invalid(
      () => translateResponse(response(typeUrls.upstream, [undefined]), SERVER),
      /Upstream: resource has the wrong type/,
    );
  });

  test('an Any of the wrong type', () => {
    const wrong = packed(AuditSettingsSchema, { batchMaxEvents: 1, flushIntervalMs: 10 });
    invalid(
      () => translateResponse(response(typeUrls.trust, [wrong]), SERVER),
      /TrustBundle: resource has the wrong type/,
    );
    const duration = packed(DurationSchema, { seconds: 1n });
    invalid(
      () => translateResponse(response(typeUrls.policy, [duration]), SERVER),
      /ServerPolicy: resource has the wrong type/,
    );
  });

  test('an Any with a malformed type URL', () => {
    const any = create(AnySchema, { typeUrl: 'type.googleapis.com/', value: new Uint8Array() });
    invalid(
      () => translateResponse(response(typeUrls.audit, [any]), SERVER),
      /AuditSettings: resource has the wrong type/,
    );
  });

  test('an Any whose bytes do not decode', () => {
    const any = create(AnySchema, { typeUrl: typeUrls.trust, value: new Uint8Array([0xff, 0xff]) });
    invalid(
      () => translateResponse(response(typeUrls.trust, [any]), SERVER),
      /TrustBundle: resource cannot be decoded/,
    );
  });

  test('an upstream for another server', () => {
    invalid(
      () => translateResponse(upstream({ server: 'gitlab' }), SERVER),
      /Upstream.server is "gitlab" but this proxy fronts "github"/,
    );
  });

  test('a policy for another server', () => {
    invalid(
      () => translateResponse(policy([{ users: ['a@x'] }], 'gitlab'), SERVER),
      /ServerPolicy.server is "gitlab" but this proxy fronts "github"/,
    );
  });

  test('a JWKS holding a private key', () => {
    invalid(
      () => translateResponse(trust({ jwksJson: JSON.stringify({ keys: [privateJwk] }) }), SERVER),
      /TrustBundle.jwks_json must hold public keys only/,
    );
  });

  test('a JWKS holding a key that is not P-256', async () => {
    const p384 = await exportJWK((await generateKeyPair('ES384', { extractable: true })).publicKey);
    invalid(
      () => translateResponse(trust({ jwksJson: JSON.stringify({ keys: [publicJwk, p384] }) }), SERVER),
      /TrustBundle.jwks_json: only EC P-256 \(ES256\) keys/,
    );
    const rsa = await exportJWK((await generateKeyPair('RS256', { extractable: true })).publicKey);
    invalid(
      () => translateResponse(trust({ jwksJson: JSON.stringify({ keys: [rsa] }) }), SERVER),
      /only EC P-256/,
    );
    const oct = { kty: 'oct', k: 'c2VjcmV0' };
    invalid(
      () => translateResponse(trust({ jwksJson: JSON.stringify({ keys: [oct] }) }), SERVER),
      /only EC P-256/,
    );
  });

  test('a JWKS holding a P-256 key whose point is not on the curve', () => {
    const offCurve = { ...publicJwk, y: publicJwk.x };
    invalid(
      () => translateResponse(trust({ jwksJson: JSON.stringify({ keys: [offCurve] }) }), SERVER),
      /TrustBundle.jwks_json: JWKS key 0 is not a valid P-256 public key/,
    );
  });

  test('a JWKS holding a key whose kid is not a string', () => {
    invalid(
      () =>
        translateResponse(trust({ jwksJson: JSON.stringify({ keys: [{ ...publicJwk, kid: 7 }] }) }), SERVER),
      /TrustBundle.jwks_json: JWKS key 0: "kid" must be a string/,
    );
  });

  test('a JWKS whose keys are not objects', () => {
    for (const keys of ['[1]', '[null]', '["k"]', '[[]]']) {
      invalid(
        () => translateResponse(trust({ jwksJson: `{"keys":${keys}}` }), SERVER),
        /TrustBundle.jwks_json: every key must be a JSON object/,
      );
    }
  });

  test('a JWKS without keys', () => {
    for (const jwksJson of ['{"keys":[]}', '{}', 'null', '5', '{"keys":{}}']) {
      invalid(
        () => translateResponse(trust({ jwksJson }), SERVER),
        /TrustBundle.jwks_json must hold a non-empty "keys" array/,
      );
    }
  });

  test('a JWKS that is not JSON', () => {
    invalid(
      () => translateResponse(trust({ jwksJson: '{keys:' }), SERVER),
      /TrustBundle.jwks_json is not valid JSON/,
    );
    invalid(
      () => translateResponse(trust({ jwksJson: '' }), SERVER),
      /TrustBundle.jwks_json is not valid JSON/,
    );
  });

  test('an issuer that is not an http(s) URL', () => {
    invalid(
      () => translateResponse(trust({ issuer: 'urn:tessera' }), SERVER),
      /TrustBundle.issuer: "urn:tessera" must be http\(s\)/,
    );
    invalid(() => translateResponse(trust({ issuer: '' }), SERVER), /TrustBundle.issuer: "" is not a URL/);
  });

  test('a resource URI with a query or fragment', () => {
    for (const resourceUri of [
      'http://h:1/mcp?x=1',
      'http://h:1/mcp#frag',
      'http://h:1/mcp?',
      'http://h:1/mcp#',
    ]) {
      invalid(
        () => translateResponse(upstream({ resourceUri }), SERVER),
        /Upstream.resource_uri must have no query or fragment/,
      );
    }
  });

  test('a resource URI that is not an http(s) URL', () => {
    invalid(
      () => translateResponse(upstream({ resourceUri: 'ws://h/mcp' }), SERVER),
      /Upstream.resource_uri: "ws:\/\/h\/mcp" must be http\(s\)/,
    );
    invalid(
      () => translateResponse(upstream({ resourceUri: '/mcp' }), SERVER),
      /Upstream.resource_uri: "\/mcp" is not a URL/,
    );
  });

  test('an authorization server that is not an http(s) URL', () => {
    invalid(
      () => translateResponse(upstream({ authorizationServers: [ISSUER, 'nope'] }), SERVER),
      /Upstream.authorization_servers: "nope" is not a URL/,
    );
  });

  test('batch size out of range', () => {
    invalid(
      () => translateResponse(audit(0, 1000), SERVER),
      /AuditSettings.batch_max_events 0 is outside 1..10000/,
    );
    invalid(
      () => translateResponse(audit(10_001, 1000), SERVER),
      /AuditSettings.batch_max_events 10001 is outside 1..10000/,
    );
  });

  test('flush interval out of range', () => {
    invalid(
      () => translateResponse(audit(10, 9), SERVER),
      /AuditSettings.flush_interval_ms 9 is outside 10..60000/,
    );
    invalid(
      () => translateResponse(audit(10, 60_001), SERVER),
      /AuditSettings.flush_interval_ms 60001 is outside 10..60000/,
    );
  });

  test('empty user or group names in grants', () => {
    invalid(
      () => translateResponse(policy([{ users: ['a@x', ''] }]), SERVER),
      /ServerPolicy.grants: empty user name/,
    );
    invalid(
      () => translateResponse(policy([{ groups: [''] }]), SERVER),
      /ServerPolicy.grants: empty group name/,
    );
  });

  test('a rejected response is left unchanged', () => {
    const r = upstream({ server: 'gitlab' });
    const before = toBinary(DiscoveryResponseSchema, r);
    invalid(() => translateResponse(r, SERVER), /Upstream.server/);
    assert.deepEqual(toBinary(DiscoveryResponseSchema, r), before);
  });
});
