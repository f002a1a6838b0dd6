import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { TrustBundleSchema } from '@tessera/api/mesh/v1/config';
import {
  base64url,
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { TesseraError } from '../errors.ts';
import { translateTrust } from '../ir/translate.ts';
import { authenticate, bearerToken } from './authn.ts';
import { JwtRefusedError } from './es256-jwt.ts';

const ISSUER = 'http://127.0.0.1:8080';
const AUDIENCE = 'http://127.0.0.1:15001/mcp';
const OTHER_AUDIENCE = 'http://127.0.0.1:15002/mcp';
const KID = 'key-1';

const signer = await generateKeyPair('ES256', { extractable: true });
const publicJwk: JWK = { ...(await exportJWK(signer.publicKey)), kid: KID, alg: 'ES256', use: 'sig' };
const trust = translateTrust(
  create(TrustBundleSchema, { issuer: ISSUER, jwksJson: JSON.stringify({ keys: [publicJwk] }) }),
);
const stranger = await generateKeyPair('ES256', { extractable: true });

const now = () => Math.floor(Date.now() / 1000);

interface MintOptions {
  claims?: JWTPayload;
  issuer?: string;
  audience?: string | string[];
  subject?: string | undefined;
  iat?: number;
  exp?: number;
  nbf?: number;
  kid?: string;
  key?: CryptoKey;
}

/** Signs an ES256 access token like the control plane does, with overrides. */
function mint(o: MintOptions = {}): Promise<string> {
  const jwt = new SignJWT({ email: 'ada@example.com', groups: ['eng'], client_id: 'cli', ...o.claims })
    .setProtectedHeader({ alg: 'ES256', kid: o.kid ?? KID, typ: 'at+jwt' })
    .setIssuer(o.issuer ?? ISSUER)
    .setAudience(o.audience ?? AUDIENCE)
    .setIssuedAt(o.iat ?? now())
    .setExpirationTime(o.exp ?? now() + 600);
  if (!('subject' in o)) jwt.setSubject('user-1');
  else if (o.subject !== undefined) jwt.setSubject(o.subject);
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
  return jwt.sign(o.key ?? signer.privateKey);
}

function encode(value: unknown): string {
  return base64url.encode(JSON.stringify(value));
}

/** Asserts the token is refused as unauthenticated with a message matching `message`. */
async function refused(token: string, message: RegExp, audience = AUDIENCE, withCause = true): Promise<void> {
  await assert.rejects(authenticate(token, trust, audience), (err: unknown) => {
    assert.ok(err instanceof TesseraError, `expected a TesseraError, got ${String(err)}`);
    assert.equal(err.code, 'TESSERA_UNAUTHENTICATED');
    assert.equal(err.httpStatus, 401);
    assert.match(err.message, message);
    if (withCause)
      assert.ok(err.cause instanceof JwtRefusedError, "the verifier's refusal is kept as the cause");
    return true;
  });
}

describe('authenticate: accepted tokens', () => {
  test('a valid token yields the principal, named by its email', async () => {
    const { claims, ...principal } = await authenticate(await mint(), trust, AUDIENCE);
    assert.equal(claims.sub, 'user-1');
    assert.deepEqual(principal, {
      name: 'ada@example.com',
      subject: 'user-1',
      groups: ['eng'],
      clientId: 'cli',
      scopes: [],
      expiresAtMs: (claims.exp as number) * 1000,
    });
  });

  test('the scope claim is split into scopes; a non-string scope counts as none', async () => {
    const scoped = await authenticate(await mint({ claims: { scope: 'mcp  mcp:write' } }), trust, AUDIENCE);
    assert.deepEqual(scoped.scopes, ['mcp', 'mcp:write']);
    const odd = await authenticate(await mint({ claims: { scope: ['mcp'] } }), trust, AUDIENCE);
    assert.deepEqual(odd.scopes, []);
  });

  test('without an email claim the principal is named by its subject', async () => {
    const principal = await authenticate(await mint({ claims: { email: undefined } }), trust, AUDIENCE);
    assert.equal(principal.name, 'user-1');
    assert.equal(principal.subject, 'user-1');
  });

  test('an empty or non-string email falls back to the subject', async () => {
    assert.equal((await authenticate(await mint({ claims: { email: '' } }), trust, AUDIENCE)).name, 'user-1');
    assert.equal((await authenticate(await mint({ claims: { email: 42 } }), trust, AUDIENCE)).name, 'user-1');
  });

  test('groups keep only strings; a missing groups claim is no groups', async () => {
    const mixed = await authenticate(
      await mint({ claims: { groups: ['eng', 7, null, 'ops'] } }),
      trust,
      AUDIENCE,
    );
    assert.deepEqual(mixed.groups, ['eng', 'ops']);
    const none = await authenticate(await mint({ claims: { groups: undefined } }), trust, AUDIENCE);
    assert.deepEqual(none.groups, []);
    const notArray = await authenticate(await mint({ claims: { groups: 'eng' } }), trust, AUDIENCE);
    assert.deepEqual(notArray.groups, []);
  });

  test('a missing client_id is the empty string', async () => {
    const principal = await authenticate(await mint({ claims: { client_id: undefined } }), trust, AUDIENCE);
    assert.equal(principal.clientId, '');
  });

  test('a token whose audience list includes this resource is accepted', async () => {
    const principal = await authenticate(
      await mint({ audience: [OTHER_AUDIENCE, AUDIENCE] }),
      trust,
      AUDIENCE,
    );
    assert.equal(principal.subject, 'user-1');
  });
});

describe('authenticate: refused tokens', () => {
  test('an expired token', async () => {
    await refused(await mint({ iat: now() - 3600, exp: now() - 60 }), /^the token has expired$/);
  });

  test('a token that is not yet valid (nbf in the future)', async () => {
    await refused(await mint({ nbf: now() + 3600 }), /the token's "nbf" claim is not accepted/);
  });

  test('a token for another server (wrong audience)', async () => {
    await refused(await mint({ audience: OTHER_AUDIENCE }), /the token's "aud" claim is not accepted/);
  });

  test('a valid token presented at another server', async () => {
    await refused(await mint(), /"aud" claim/, OTHER_AUDIENCE);
  });

  test('a token from another issuer', async () => {
    await refused(await mint({ issuer: 'http://evil.example' }), /the token's "iss" claim is not accepted/);
  });

  test('an unsigned token (alg none)', async () => {
    const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: now(), exp: now() + 600 };
    const token = `${encode({ alg: 'none', typ: 'JWT' })}.${encode(payload)}.`;
    await refused(token, /^the token algorithm is not accepted$/);
  });

  test('an unsigned token that names a trusted kid (alg none)', async () => {
    const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: now(), exp: now() + 600 };
    const token = `${encode({ alg: 'none', kid: KID })}.${encode(payload)}.`;
    await refused(token, /^the token algorithm is not accepted$/);
  });

  test('an HS256 token keyed with the public key (algorithm confusion)', async () => {
    const secret = new TextEncoder().encode(JSON.stringify(publicJwk));
    const token = await new SignJWT({ email: 'mallory@example.com' })
      .setProtectedHeader({ alg: 'HS256', kid: KID })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('mallory')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(secret);
    await refused(token, /^the token algorithm is not accepted$/);
  });

  test('a token signed by another key that claims the trusted kid', async () => {
    await refused(await mint({ key: stranger.privateKey }), /^the token signature is invalid$/);
  });

  test('a token signed by another key with an unknown kid', async () => {
    await refused(
      await mint({ key: stranger.privateKey, kid: 'key-2' }),
      /^the token was signed by an unknown key$/,
    );
  });

  test('a trusted token with its payload altered', async () => {
    const [header, , signature] = (await mint()).split('.');
    const forged = {
      iss: ISSUER,
      aud: AUDIENCE,
      sub: 'admin',
      iat: now(),
      exp: now() + 600,
      email: 'root@example.com',
    };
    await refused(`${header}.${encode(forged)}.${signature}`, /^the token signature is invalid$/);
  });

  test('a token without a subject', async () => {
    await refused(await mint({ subject: undefined }), /the token's "sub" claim is not accepted/);
  });

  test('a token without an expiry', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('user-1')
      .setIssuedAt()
      .sign(signer.privateKey);
    await refused(token, /the token's "exp" claim is not accepted/);
  });

  test('a token without an issued-at time', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('user-1')
      .setExpirationTime('10m')
      .sign(signer.privateKey);
    await refused(token, /the token's "iat" claim is not accepted/);
  });

  test('a JWT that is not an access token (typ)', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('user-1')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(signer.privateKey);
    await refused(token, /not an access token/);
  });

  test('a token issued in the future', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('user-1')
      .setIssuedAt(now + 365 * 86_400)
      .setExpirationTime(now + 3650 * 86_400)
      .sign(signer.privateKey);
    await refused(token, /^the token's "iat" claim is in the future$/);
  });

  test('a token with an empty subject', async () => {
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: KID, typ: 'at+jwt' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject('')
      .setIssuedAt()
      .setExpirationTime('10m')
      .sign(signer.privateKey);
    await refused(token, /"sub" claim/, AUDIENCE, false);
  });

  for (const [label, token] of [
    ['garbage', 'not-a-token'],
    ['empty', ''],
    ['two segments', 'a.b'],
    ['bad base64 header', '!!!.e30.sig'],
    ['a header that is not JSON', `${base64url.encode('nope')}.e30.sig`],
  ] as const) {
    test(`a malformed token (${label})`, async () => {
      await refused(token, /^the token is malformed$/);
    });
  }
});

describe('bearerToken', () => {
  test('extracts the token from a Bearer header', () => {
    assert.equal(bearerToken('Bearer abc.def.ghi'), 'abc.def.ghi');
  });

  test('the scheme is case-insensitive', () => {
    assert.equal(bearerToken('bearer abc'), 'abc');
    assert.equal(bearerToken('BEARER abc'), 'abc');
    assert.equal(bearerToken('bEaReR abc'), 'abc');
  });

  test('several spaces after the scheme and surrounding whitespace are tolerated', () => {
    assert.equal(bearerToken('Bearer   abc'), 'abc');
    assert.equal(bearerToken('  Bearer abc  '), 'abc');
  });

  test('the token68 alphabet, with padding, is accepted', () => {
    assert.equal(bearerToken('Bearer aZ09-._~+/=='), 'aZ09-._~+/==');
  });

  test('a missing or empty header yields nothing', () => {
    assert.equal(bearerToken(undefined), undefined);
    assert.equal(bearerToken(''), undefined);
    assert.equal(bearerToken('Bearer'), undefined);
    assert.equal(bearerToken('Bearer '), undefined);
    assert.equal(bearerToken('   '), undefined);
  });

  test('other schemes are refused', () => {
    assert.equal(bearerToken('Basic dXNlcjpwYXNz'), undefined);
    assert.equal(bearerToken('DPoP abc'), undefined);
    assert.equal(bearerToken('Token abc'), undefined);
    assert.equal(bearerToken('Bearerabc'), undefined);
  });

  test('whitespace or other characters inside the token are refused', () => {
    assert.equal(bearerToken('Bearer abc def'), undefined);
    assert.equal(bearerToken('Bearer abc\tdef'), undefined);
    assert.equal(bearerToken('Bearer abc\ndef'), undefined);
    assert.equal(bearerToken('Bearer abc,def'), undefined);
    assert.equal(bearerToken('Bearer =abc'), undefined);
    assert.equal(bearerToken('Bearer ab=c'), undefined);
  });

  test('a tab is not a separator after the scheme', () => {
    assert.equal(bearerToken('Bearer\tabc'), undefined);
  });
});

describe('authenticate: the verification cache', () => {
  test('a token verified once is still checked against its audience', async () => {
    const token = await mint();
    await authenticate(token, trust, AUDIENCE);
    await refused(token, /"aud" claim/, OTHER_AUDIENCE);
    assert.equal((await authenticate(token, trust, AUDIENCE)).name, 'ada@example.com');
  });

  test('a new trust bundle (key rotation) does not inherit verifications made under the old one', async () => {
    const token = await mint();
    await authenticate(token, trust, AUDIENCE);
    const rotated = translateTrust(
      create(TrustBundleSchema, {
        issuer: ISSUER,
        jwksJson: JSON.stringify({
          keys: [{ ...(await exportJWK(stranger.publicKey)), kid: KID, alg: 'ES256' }],
        }),
      }),
    );
    await assert.rejects(
      authenticate(token, rotated, AUDIENCE),
      (err: unknown) => err instanceof TesseraError,
    );
  });

  test('an expired token is refused even after it was verified while valid', async () => {
    const token = await mint({ iat: now() - 100, exp: now() - 10 });
    await refused(token, /expired/);
    // A token verified while valid expires from the cache with the token (exp + the 5 s tolerance).
    const soon = await mint({ exp: now() + 1 });
    await authenticate(soon, trust, AUDIENCE);
    await new Promise((r) => setTimeout(r, 7_000));
    await refused(soon, /expired/);
  });
});
