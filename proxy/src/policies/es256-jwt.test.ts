import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { describe, test } from 'node:test';
import {
  type Es256KeySet,
  importEs256Jwks,
  type JwtRefusalReason,
  JwtRefusedError,
  type VerifyOptions,
  verifyEs256Jwt,
} from './es256-jwt.ts';

const ISSUER = 'http://127.0.0.1:8080';
const AUDIENCE = 'http://127.0.0.1:15001/mcp';
const NOW = 1_800_000_000;
const OPTIONS: VerifyOptions = { issuer: ISSUER, audience: AUDIENCE, clockToleranceS: 5, nowS: NOW };

function keyPair(): { publicKey: KeyObject; privateKey: KeyObject; jwk: Record<string, unknown> } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { publicKey, privateKey, jwk: publicKey.export({ format: 'jwk' }) };
}

const signer = keyPair();
const stranger = keyPair();
const trustedJwk = { ...signer.jwk, kid: 'k1', alg: 'ES256', use: 'sig' };
const keys = importEs256Jwks({ keys: [trustedJwk] });

const HEADER = { alg: 'ES256', kid: 'k1', typ: 'at+jwt' };
const CLAIMS = { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: NOW - 10, exp: NOW + 600 };

/** base64url of a value's JSON. */
function json(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** base64url of raw text or bytes. */
function raw(value: string | Uint8Array): string {
  return Buffer.from(value).toString('base64url');
}

/** A compact JWS over exactly these segments, signed with `key` in `dsaEncoding`. */
function signSegments(
  header: string,
  payload: string,
  key: KeyObject = signer.privateKey,
  dsaEncoding: 'ieee-p1363' | 'der' = 'ieee-p1363',
): string {
  const input = `${header}.${payload}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, dsaEncoding }).toString('base64url')}`;
}

function token(header: object = HEADER, claims: object = CLAIMS, key?: KeyObject): string {
  return signSegments(json(header), json(claims), key);
}

function refused(
  jwt: string,
  reason: JwtRefusalReason,
  claim?: string,
  keySet: Es256KeySet = keys,
  options: VerifyOptions = OPTIONS,
): void {
  assert.throws(
    () => verifyEs256Jwt(jwt, keySet, options),
    (err: unknown) => {
      assert.ok(err instanceof JwtRefusedError, `expected a JwtRefusedError, got ${String(err)}`);
      assert.equal(err.reason, reason, err.message);
      if (claim !== undefined) assert.equal(err.claim, claim);
      return true;
    },
  );
}

describe('verifyEs256Jwt: accepted tokens', () => {
  test('a valid access token yields its claims', () => {
    assert.deepEqual(verifyEs256Jwt(token(), keys, OPTIONS), CLAIMS);
  });

  test('typ may be at+jwt or application/at+jwt, in any case (RFC 9068)', () => {
    for (const typ of ['at+jwt', 'AT+JWT', 'application/at+jwt', 'Application/AT+jwt']) {
      assert.equal(verifyEs256Jwt(token({ ...HEADER, typ }), keys, OPTIONS).sub, 'user-1', typ);
    }
  });

  test('an audience array that contains this resource', () => {
    const claims = { ...CLAIMS, aud: ['http://other.example/mcp', AUDIENCE] };
    assert.deepEqual(verifyEs256Jwt(token(HEADER, claims), keys, OPTIONS).aud, claims.aud);
  });

  test('a header without kid is checked against every usable key', () => {
    const both = importEs256Jwks({ keys: [{ ...stranger.jwk, kid: 'k0' }, trustedJwk] });
    const { kid: _, ...noKid } = HEADER;
    assert.equal(verifyEs256Jwt(token(noKid), both, OPTIONS).sub, 'user-1');
  });

  test('several keys with the same kid are each tried', () => {
    const twins = importEs256Jwks({ keys: [{ ...stranger.jwk, kid: 'k1' }, trustedJwk] });
    assert.equal(verifyEs256Jwt(token(), twins, OPTIONS).sub, 'user-1');
  });

  test('JWK metadata that allows ES256 verification is honoured', () => {
    const set = importEs256Jwks({ keys: [{ ...signer.jwk, kid: 'k1', key_ops: ['verify'], ext: true }] });
    assert.equal(verifyEs256Jwt(token(), set, OPTIONS).sub, 'user-1');
  });

  test('time claims at the edges of the clock tolerance', () => {
    for (const claims of [
      { ...CLAIMS, exp: NOW - 4 },
      { ...CLAIMS, nbf: NOW + 5 },
      { ...CLAIMS, iat: NOW + 5 },
    ]) {
      assert.equal(verifyEs256Jwt(token(HEADER, claims), keys, OPTIONS).sub, 'user-1');
    }
  });
});

describe('verifyEs256Jwt: refused tokens', () => {
  test('another algorithm named in the header', () => {
    refused(token({ ...HEADER, alg: 'ES384' }), 'algorithm');
    refused(token({ ...HEADER, alg: 'RS256' }), 'algorithm');
    refused(token({ ...HEADER, alg: 'es256' }), 'algorithm');
  });

  test('alg none, with or without a signature segment', () => {
    refused(`${json({ ...HEADER, alg: 'none' })}.${json(CLAIMS)}.`, 'algorithm');
    const signed = token({ ...HEADER, alg: 'none' });
    refused(signed, 'algorithm');
  });

  test('HS256 keyed with the trusted public key (algorithm confusion)', () => {
    for (const secret of [
      JSON.stringify(trustedJwk),
      signer.publicKey.export({ format: 'pem', type: 'spki' }),
    ]) {
      const input = `${json({ ...HEADER, alg: 'HS256' })}.${json(CLAIMS)}`;
      const mac = createHmac('sha256', secret).update(input).digest('base64url');
      refused(`${input}.${mac}`, 'algorithm');
    }
  });

  test('a missing or non-string alg', () => {
    const { alg: _, ...noAlg } = HEADER;
    refused(token(noAlg), 'malformed');
    refused(token({ ...HEADER, alg: '' }), 'malformed');
    refused(token({ ...HEADER, alg: ['ES256'] }), 'malformed');
  });

  test('segments that are not strict unpadded base64url', () => {
    const [h, p, s] = token().split('.') as [string, string, string];
    refused(`${h}.${p}.${s}=`, 'malformed');
    refused(`${h}==.${p}.${s}`, 'malformed');
    refused(`${h}.${p}.${s.replaceAll('-', '+').replaceAll('_', '/')}+/`, 'malformed');
    refused(`${h}.${p} .${s}`, 'malformed');
    // 4n+1 characters cannot encode whole bytes (the signature is 86 characters).
    refused(`${h}.${p}.${s}ABC`, 'malformed');
    refused(`${h}.${p}.${s.slice(0, 85)}`, 'malformed');
    refused('!!!.e30.sig', 'malformed');
  });

  test('a token with fewer or more than three segments', () => {
    const jwt = token();
    for (const t of ['', 'abc', 'a.b', `${jwt}.`, `${jwt}.${jwt.split('.')[2]}`, `${jwt}..`])
      refused(t, 'malformed');
  });

  test('a header or payload that is not a JSON object', () => {
    for (const bad of [
      json([HEADER]),
      json('ES256'),
      json(7),
      json(null),
      raw('nope'),
      raw(Buffer.from([0xff, 0xfe])),
    ]) {
      refused(signSegments(bad, json(CLAIMS)), 'malformed');
      refused(signSegments(json(HEADER), bad), 'malformed');
    }
  });

  test('a crit header, even one naming b64 with b64 true, and a b64 header', () => {
    refused(token({ ...HEADER, crit: ['b64'], b64: true }), 'malformed');
    refused(token({ ...HEADER, crit: ['exp'], exp: NOW + 60 }), 'malformed');
    refused(token({ ...HEADER, crit: [] }), 'malformed');
    refused(token({ ...HEADER, b64: true }), 'malformed');
    refused(token({ ...HEADER, b64: false }), 'malformed');
  });

  test('a typ other than an access token, or none', () => {
    const { typ: _, ...noTyp } = HEADER;
    refused(token(noTyp), 'typ');
    for (const typ of ['JWT', 'application/jwt', 'at+jwt ', 'text/at+jwt', 'application/at+jwt+x', 7]) {
      refused(token({ ...HEADER, typ }), 'typ');
    }
  });

  test('a kid no trusted key has', () => {
    refused(token({ ...HEADER, kid: 'k2' }), 'unknown-key');
    refused(token({ ...HEADER, kid: 1 }), 'unknown-key');
    refused(token({ ...HEADER, kid: null }), 'unknown-key');
  });

  test('a key whose metadata forbids ES256 verification is never selected', () => {
    for (const extra of [
      { use: 'enc' },
      { alg: 'ES384' },
      { key_ops: ['sign'] },
      { key_ops: ['verify', 'verify'] },
      { key_ops: 'verify' },
      { ext: 'yes' },
    ]) {
      const set = importEs256Jwks({ keys: [{ ...signer.jwk, kid: 'k1', ...extra }] });
      assert.equal(set.keys.length, 0, JSON.stringify(extra));
      refused(token(), 'unknown-key', undefined, set);
    }
  });

  test('an expired token', () => {
    refused(token(HEADER, { ...CLAIMS, exp: NOW - 5 }), 'expired');
    refused(token(HEADER, { ...CLAIMS, iat: NOW - 7200, exp: NOW - 3600 }), 'expired');
  });

  test('a token not yet valid (nbf)', () => {
    refused(token(HEADER, { ...CLAIMS, nbf: NOW + 6 }), 'claim', 'nbf');
    refused(token(HEADER, { ...CLAIMS, nbf: String(NOW) }), 'claim', 'nbf');
  });

  test('a token issued in the future', () => {
    refused(token(HEADER, { ...CLAIMS, iat: NOW + 6, exp: NOW + 86_400 * 3650 }), 'issued-in-future', 'iat');
  });

  test('another issuer or audience', () => {
    refused(token(HEADER, { ...CLAIMS, iss: 'http://evil.example' }), 'claim', 'iss');
    refused(token(HEADER, { ...CLAIMS, iss: [ISSUER] }), 'claim', 'iss');
    refused(token(HEADER, { ...CLAIMS, aud: 'http://127.0.0.1:15002/mcp' }), 'claim', 'aud');
    refused(token(HEADER, { ...CLAIMS, aud: ['http://127.0.0.1:15002/mcp'] }), 'claim', 'aud');
    refused(token(HEADER, { ...CLAIMS, aud: [] }), 'claim', 'aud');
    refused(token(HEADER, { ...CLAIMS, aud: { AUDIENCE } }), 'claim', 'aud');
  });

  test('a missing sub, exp, iat, iss or aud', () => {
    for (const claim of ['sub', 'exp', 'iat', 'iss', 'aud']) {
      const { [claim as keyof typeof CLAIMS]: _, ...rest } = CLAIMS;
      refused(token(HEADER, rest), 'claim', claim);
    }
  });

  test('exp or iat that is not a number', () => {
    refused(token(HEADER, { ...CLAIMS, exp: String(NOW + 600) }), 'claim', 'exp');
    refused(token(HEADER, { ...CLAIMS, exp: null }), 'claim', 'exp');
    refused(token(HEADER, { ...CLAIMS, iat: String(NOW) }), 'claim', 'iat');
  });

  test('a signature by another key under the trusted kid', () => {
    refused(token(HEADER, CLAIMS, stranger.privateKey), 'signature');
  });

  test('a DER-encoded signature from the right key', () => {
    refused(signSegments(json(HEADER), json(CLAIMS), signer.privateKey, 'der'), 'signature');
  });

  test('a signature that is empty, short, long or all zeros', () => {
    const [h, p, s] = token().split('.') as [string, string, string];
    const sig = Buffer.from(s, 'base64url');
    for (const bad of [
      Buffer.alloc(0),
      sig.subarray(0, 63),
      Buffer.concat([sig, Buffer.alloc(1)]),
      Buffer.alloc(64),
    ]) {
      refused(`${h}.${p}.${raw(bad)}`, 'signature');
    }
  });

  test('a token from the right key with one payload byte changed', () => {
    const [h, p, s] = token().split('.') as [string, string, string];
    const bytes = Buffer.from(p, 'base64url');
    const at = bytes.indexOf('user-1') + 5;
    bytes[at] = '2'.charCodeAt(0);
    refused(`${h}.${raw(bytes)}.${s}`, 'signature');
  });

  test('the header and payload are only read after the signature holds', () => {
    // A forged token with an expired, wrongly typed payload is refused for its signature first.
    refused(token({ ...HEADER, typ: 'JWT' }, { exp: 1 }, stranger.privateKey), 'signature');
  });
});

describe('importEs256Jwks', () => {
  test('a private key is refused', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    assert.throws(
      () => importEs256Jwks({ keys: [privateKey.export({ format: 'jwk' })] }),
      /JWKS key 0 is private/,
    );
  });

  test('key material that is not a P-256 point is refused', () => {
    assert.throws(
      () => importEs256Jwks({ keys: [{ ...signer.jwk, x: signer.jwk.y }] }),
      /JWKS key 0 is not a valid P-256 public key/,
    );
  });

  test('a kid that is not a string is refused', () => {
    assert.throws(
      () => importEs256Jwks({ keys: [{ ...signer.jwk, kid: 1 }] }),
      /JWKS key 0: "kid" must be a string/,
    );
  });

  test('keys of other types or curves are left out', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey.export({ format: 'jwk' });
    const set = importEs256Jwks({ keys: [rsa, p384, trustedJwk] });
    assert.deepEqual(
      set.keys.map((k) => k.kid),
      ['k1'],
    );
  });
});
