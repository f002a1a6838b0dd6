import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { ApiKeySchema, TrustBundleSchema } from '@tessera/api/mesh/v1/config';
import { TesseraError } from '../errors.ts';
import { translateTrust } from '../ir/translate.ts';
import { verifyApiKey } from './api-key.ts';
import { authenticate } from './authn.ts';

// A real P-256 key: a trust bundle whose key material does not import is refused whole.
const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const JWKS = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k' }] });

function newKey(id: string): string {
  return `tsk_${id}_${randomBytes(32).toString('base64url')}`;
}
const sha = (s: string) => createHash('sha256').update(s).digest();

const valid = newKey('a1b2c3d4e5f6a7b8');
const expired = newKey('0000000000000000');
const trust = translateTrust(
  create(TrustBundleSchema, {
    issuer: 'http://127.0.0.1:8080',
    jwksJson: JWKS,
    apiKeys: [
      create(ApiKeySchema, {
        id: 'a1b2c3d4e5f6a7b8',
        sha256: sha(valid),
        user: 'robot@example.com',
        groups: ['ci'],
        expiresAt: timestampFromMs(Date.now() + 3_600_000),
      }),
      create(ApiKeySchema, {
        id: '0000000000000000',
        sha256: sha(expired),
        user: 'old@example.com',
        expiresAt: timestampFromMs(Date.now() - 1000),
      }),
    ],
  }),
);

function unauthenticated(fn: () => unknown, reason: RegExp) {
  assert.throws(
    fn,
    (err: unknown) =>
      err instanceof TesseraError && err.code === 'TESSERA_UNAUTHENTICATED' && reason.test(err.message),
  );
}

describe('API keys', () => {
  test('a valid key authenticates as its user and groups, through authenticate() too', async () => {
    const p = verifyApiKey(valid, trust.apiKeys);
    assert.deepEqual(p, {
      name: 'robot@example.com',
      subject: 'apikey:a1b2c3d4e5f6a7b8',
      groups: ['ci'],
      clientId: 'apikey:a1b2c3d4e5f6a7b8',
      claims: {
        sub: 'apikey:a1b2c3d4e5f6a7b8',
        email: 'robot@example.com',
        groups: ['ci'],
        client_id: 'apikey:a1b2c3d4e5f6a7b8',
      },
      expiresAtMs: trust.apiKeys.get('a1b2c3d4e5f6a7b8')?.expiresAtMs,
    });
    assert.ok(p.expiresAtMs! > Date.now(), 'the key’s own expiry');
    assert.deepEqual(await authenticate(valid, trust, 'http://127.0.0.1:15001/mcp'), p);
  });

  test('a wrong secret for a known id is refused', () => {
    unauthenticated(
      () => verifyApiKey(`${valid.slice(0, -1)}${valid.endsWith('A') ? 'B' : 'A'}`, trust.apiKeys),
      /not valid/,
    );
  });

  test('an unknown id (revoked: no longer pushed) is refused', () => {
    unauthenticated(() => verifyApiKey(newKey('ffffffffffffffff'), trust.apiKeys), /not valid/);
  });

  test('an expired key is refused even before the next push', () => {
    unauthenticated(() => verifyApiKey(expired, trust.apiKeys), /expired/);
    unauthenticated(() => verifyApiKey(valid, trust.apiKeys, Date.now() + 3_700_000), /expired/);
  });

  test('malformed keys are refused without being looked up', () => {
    for (const bad of ['tsk_', 'tsk_short_x', `tsk_A1B2C3D4E5F6A7B8_${'a'.repeat(43)}`, `${valid}x`]) {
      unauthenticated(() => verifyApiKey(bad, trust.apiKeys), /malformed/);
    }
  });

  test('bad pushed keys make the whole bundle invalid', () => {
    const bundle = (k: Partial<{ id: string; sha256: Uint8Array; user: string; expires: boolean }>) =>
      create(TrustBundleSchema, {
        issuer: 'http://127.0.0.1:8080',
        jwksJson: JWKS,
        apiKeys: [
          create(ApiKeySchema, {
            id: k.id ?? 'a1b2c3d4e5f6a7b8',
            sha256: k.sha256 ?? sha('x'),
            user: k.user ?? 'u@example.com',
            ...(k.expires === false ? {} : { expiresAt: timestampFromMs(Date.now()) }),
          }),
        ],
      });
    assert.throws(() => translateTrust(bundle({ id: 'UPPER' })), /api_keys\[0\]\.id/);
    assert.throws(() => translateTrust(bundle({ sha256: new Uint8Array(31) })), /sha256 must be 32 bytes/);
    assert.throws(() => translateTrust(bundle({ user: '' })), /user is required/);
    assert.throws(() => translateTrust(bundle({ expires: false })), /expires_at is required/);
  });
});
