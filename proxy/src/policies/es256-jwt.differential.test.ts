/**
 * Differential test: `verifyEs256Jwt` must accept exactly the tokens `jose.jwtVerify` accepted with the
 * options `authn.ts` used before it (plus its own future-`iat` check), over thousands of valid and
 * randomly mutated tokens. Reproduce a failure with `ES256_JWT_SEED=<seed> node --test <this file>`.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject, randomInt, sign } from 'node:crypto';
import { test } from 'node:test';
import { createLocalJWKSet, errors, type JWTVerifyOptions, jwtVerify } from 'jose';
import { prng } from '../../test/helpers/prng.ts';
import { importEs256Jwks, JwtRefusedError, verifyEs256Jwt } from './es256-jwt.ts';

const SEED = process.env.ES256_JWT_SEED ? Number(process.env.ES256_JWT_SEED) : randomInt(2 ** 31);
const TOKENS = 4000;
const ISSUER = 'http://127.0.0.1:8080';
const AUDIENCE = 'http://127.0.0.1:15001/mcp';
const NOW = 1_800_000_000;
const TOLERANCE = 5;

const random = prng(SEED);
const int = (n: number) => Math.floor(random() * n);
const pick = <T>(items: readonly T[]): T => items[int(items.length)] as T;

function ecKey(): { privateKey: KeyObject; jwk: Record<string, unknown> } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, jwk: publicKey.export({ format: 'jwk' }) };
}
const trusted = ecKey();
const rotated = ecKey();
const encryption = ecKey();
const signOnly = ecKey();
const anonymous = ecKey();
const stranger = ecKey();
const JWKS = {
  keys: [
    { ...trusted.jwk, kid: 'k1', alg: 'ES256', use: 'sig' },
    { ...rotated.jwk, kid: 'k2', alg: 'ES256' },
    { ...encryption.jwk, kid: 'k3', use: 'enc' },
    { ...signOnly.jwk, kid: 'k4', key_ops: ['sign'] },
    { ...anonymous.jwk },
  ],
};
const SIGNERS = [trusted, trusted, trusted, rotated, encryption, signOnly, anonymous, stranger];
const ours = importEs256Jwks(JWKS);
const theirs = createLocalJWKSet(JWKS as Parameters<typeof createLocalJWKSet>[0]);
const JOSE_OPTIONS: JWTVerifyOptions = {
  issuer: ISSUER,
  audience: AUDIENCE,
  algorithms: ['ES256'],
  requiredClaims: ['sub', 'exp', 'iat'],
  typ: 'at+jwt',
  clockTolerance: TOLERANCE,
  currentDate: new Date(NOW * 1000),
};

const b64 = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');
const json = (value: unknown) => b64(JSON.stringify(value));

function signed(
  header: string,
  payload: string,
  key: KeyObject,
  dsaEncoding: 'ieee-p1363' | 'der' = 'ieee-p1363',
) {
  const input = `${header}.${payload}`;
  return `${input}.${b64(sign('sha256', Buffer.from(input), { key, dsaEncoding }))}`;
}

function validParts(): { header: Record<string, unknown>; claims: Record<string, unknown> } {
  const header: Record<string, unknown> = {
    alg: 'ES256',
    typ: pick(['at+jwt', 'application/at+jwt', 'AT+JWT']),
  };
  if (random() < 0.8) header.kid = 'k1';
  const claims: Record<string, unknown> = {
    iss: ISSUER,
    aud: random() < 0.7 ? AUDIENCE : ['http://127.0.0.1:15002/mcp', AUDIENCE],
    sub: `user-${int(100)}`,
    iat: NOW - int(3600),
    exp: NOW + 1 + int(3600),
    scope: 'mcp',
  };
  if (random() < 0.3) claims.nbf = NOW - int(60);
  return { header, claims };
}

const HEADER_CHANGES: Array<(h: Record<string, unknown>) => unknown> = [
  (h) => ({ ...h, alg: pick(['ES384', 'RS256', 'HS256', 'none', '', 'es256', null, 5, ['ES256']]) }),
  (h) => ({
    ...h,
    typ: pick([undefined, 'JWT', 'at+JWT', 'application/AT+JWT', 'jwt', 'x/at+jwt', 5, null]),
  }),
  (h) => ({ ...h, kid: pick([undefined, 'k1', 'k2', 'k3', 'k4', 'kX', 5, null, '']) }),
  (h) => ({ ...h, crit: pick([['b64'], ['exp'], [], 'b64', [5]]), b64: pick([true, false, undefined]) }),
  (h) => ({ ...h, b64: pick([true, false, 'no']) }),
  (h) => pick([[h], 'ES256', 42, null]),
];

const CLAIM_CHANGES: Array<(c: Record<string, unknown>) => unknown> = [
  (c) => ({ ...c, iss: pick([undefined, 'http://evil.example', `${ISSUER}/`, [ISSUER], null]) }),
  (c) => ({
    ...c,
    aud: pick([undefined, 'http://127.0.0.1:15002/mcp', [], ['x'], [AUDIENCE], 7, { AUDIENCE }]),
  }),
  (c) => ({ ...c, sub: pick([undefined, '', 7, null]) }),
  (c) => ({
    ...c,
    exp: pick([undefined, NOW - TOLERANCE, NOW - TOLERANCE + 1, NOW - 3600, String(NOW + 60), null]),
  }),
  (c) => ({
    ...c,
    iat: pick([undefined, NOW + TOLERANCE, NOW + TOLERANCE + 1, NOW + 86_400, String(NOW), null]),
  }),
  (c) => ({ ...c, nbf: pick([NOW + TOLERANCE, NOW + TOLERANCE + 1, String(NOW), null, NOW - 10]) }),
  (c) => pick([[c], 'claims', 1, null]),
];

/** Flips one random bit of one decoded segment and re-encodes it, keeping the rest. */
function flipBit(token: string): string {
  const segments = token.split('.');
  const i = int(segments.length);
  const bytes = Buffer.from(segments[i] ?? '', 'base64url');
  if (bytes.length > 0) {
    const at = int(bytes.length);
    bytes[at] = (bytes[at] ?? 0) ^ (1 << int(8));
  }
  segments[i] = b64(bytes);
  return segments.join('.');
}

function replaceChar(token: string): string {
  const at = int(token.length);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const c = random() < 0.9 ? pick([...alphabet]) : pick(['.', '=', '+', '/', ' ', '\u00e9']);
  return token.slice(0, at) + c + token.slice(at + 1);
}

/** Claims as JSON text that `JSON.stringify` cannot produce: odd numbers, duplicates, bad UTF-8, a BOM. */
function rawClaims(claims: Record<string, unknown>): Buffer {
  const text = JSON.stringify(claims);
  return pick([
    Buffer.from(text.replace(/"exp":\d+/, '"exp":1e400')),
    Buffer.from(text.replace(/"iat":\d+/, '"iat":-1e400')),
    Buffer.from(text.replace(/"exp":\d+/, `"exp":${NOW + 60}.5`)),
    Buffer.from(`${text.slice(0, -1)},"iss":"http://evil.example"}`),
    Buffer.from(`{"iss":"http://evil.example",${text.slice(1)}`),
    Buffer.from(` ${text}\n`),
    Buffer.from(`\ufeff${text}`),
    Buffer.concat([
      Buffer.from(text.slice(0, -1)),
      Buffer.from(',"x":"'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"}'),
    ]),
    Buffer.from(`${text.slice(0, -1)},"name":"Zo\u00eb"}`),
    Buffer.from(`${text} x`),
  ]);
}

/** One token: valid, or mutated in one of several ways. */
function generate(): string {
  const { header, claims } = validParts();
  const valid = signed(json(header), json(claims), trusted.privateKey);
  const [h, p, s] = valid.split('.') as [string, string, string];
  switch (int(11)) {
    case 0:
      return valid;
    case 1:
      return flipBit(valid);
    case 2:
      return replaceChar(valid);
    case 3:
      return signed(json(pick(HEADER_CHANGES)(header)), p, pick(SIGNERS).privateKey);
    case 4:
      return signed(h, json(pick(CLAIM_CHANGES)(claims)), pick([trusted, trusted, rotated]).privateKey);
    case 5:
      return signed(
        json(pick(HEADER_CHANGES)(header)),
        json(pick(CLAIM_CHANGES)(claims)),
        trusted.privateKey,
      );
    case 6:
      return signed(h, p, pick(SIGNERS).privateKey, pick(['ieee-p1363', 'der']));
    case 7:
      return pick([
        `${valid}.`,
        `${h}.${p}`,
        `${valid}.${s}`,
        `${h}..${s}`,
        `${valid}=`,
        `${h}=.${p}.${s}`,
        '',
      ]);
    case 8: {
      // The same header and claims re-signed, then one of their bytes flipped: signatures must not hold.
      return flipBit(
        signed(json({ ...header, kid: pick(['k1', 'k2', undefined]) }), p, pick(SIGNERS).privateKey),
      );
    }
    case 9:
      return signed(h, b64(rawClaims(claims)), trusted.privateKey);
    default:
      return `${h}.${p}.${pick([s.slice(0, 85), `${s}AA`, b64(Buffer.alloc(64)), '', s.slice(2) + s.slice(0, 2)])}`;
  }
}

/**
 * jose's verdict with authn.ts's former options, after the checks es256-jwt.ts makes on purpose beyond
 * jose: it tries every candidate key (the retry jose documents for JWKSMultipleMatchingKeys), refuses
 * an `iat` in the future (authn.ts did that after jose), padding or non-base64url characters in a
 * segment (jose decoded with atob, which ignores both), and any `crit` or `b64` header.
 */
async function joseAccepts(token: string): Promise<boolean> {
  const segments = token.split('.');
  if (segments.some((s) => !/^[A-Za-z0-9_-]*$/.test(s))) return false;
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await verifyAnyKey(token));
  } catch {
    return false;
  }
  const header = JSON.parse(Buffer.from(segments[0] ?? '', 'base64url').toString()) as object;
  if (Object.hasOwn(header, 'crit') || Object.hasOwn(header, 'b64')) return false;
  return (payload.iat as number) <= NOW + TOLERANCE;
}

async function verifyAnyKey(token: string) {
  try {
    return await jwtVerify(token, theirs, JOSE_OPTIONS);
  } catch (err) {
    if (!(err instanceof errors.JWKSMultipleMatchingKeys)) throw err;
    for await (const key of err) {
      try {
        return await jwtVerify(token, key, JOSE_OPTIONS);
      } catch (inner) {
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) throw inner;
      }
    }
    throw new errors.JWSSignatureVerificationFailed();
  }
}

function oursAccepts(token: string): boolean {
  try {
    verifyEs256Jwt(token, ours, {
      issuer: ISSUER,
      audience: AUDIENCE,
      clockToleranceS: TOLERANCE,
      nowS: NOW,
    });
    return true;
  } catch (err) {
    if (err instanceof JwtRefusedError) return false;
    throw err;
  }
}

test(`verifyEs256Jwt agrees with jose on ${TOKENS} valid and mutated tokens (seed ${SEED})`, async (t) => {
  let accepted = 0;
  for (let i = 0; i < TOKENS; i++) {
    const token = generate();
    const expected = await joseAccepts(token);
    const actual = oursAccepts(token);
    assert.equal(
      actual,
      expected,
      `token ${i} (seed ${SEED}): es256-jwt ${actual ? 'accepts' : 'refuses'}, jose ${expected ? 'accepts' : 'refuses'}: ${token}`,
    );
    if (actual) accepted++;
  }
  t.diagnostic(`${accepted} of ${TOKENS} tokens accepted by both`);
  // Both outcomes must be well represented, or the comparison proves little.
  assert.ok(accepted > TOKENS / 10, `only ${accepted} tokens accepted (seed ${SEED})`);
  assert.ok(accepted < TOKENS / 2, `${accepted} tokens accepted (seed ${SEED})`);
});
