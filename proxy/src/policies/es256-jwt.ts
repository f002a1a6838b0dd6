/**
 * Verifies ES256-signed JWT access tokens (RFC 9068) against a local JWKS with `node:crypto`. The
 * proxy needs one algorithm and one key source, so this replaces a general JOSE library and the memory
 * it costs. The checks follow what `jose`'s `jwtVerify` over `createLocalJWKSet` did with the options
 * the proxy used (a differential test holds them to that), and are stricter in three places: segments
 * must be unpadded base64url, any `crit` or `b64` header is refused, and a token with several candidate
 * keys is tried against each instead of being refused.
 *
 * @module
 */
import { createPublicKey, type JsonWebKey, type KeyObject, verify } from 'node:crypto';

/** A public P-256 key allowed to verify ES256 signatures, with the `kid` a token header may name. */
export interface Es256Key {
  readonly kid: string | undefined;
  readonly key: KeyObject;
}

/** The keys of a JWKS that can verify ES256 signatures, imported once. */
export interface Es256KeySet {
  readonly keys: readonly Es256Key[];
}

/** Why a token was refused; `authn.ts` turns each into a message safe to show the caller. */
export type JwtRefusalReason =
  | 'malformed'
  | 'algorithm'
  | 'unknown-key'
  | 'signature'
  | 'typ'
  | 'claim'
  | 'expired'
  | 'issued-in-future';

/** A refused token. `claim` names the claim at fault when `reason` is `claim`. */
export class JwtRefusedError extends Error {
  override name = 'JwtRefusedError';
  readonly reason: JwtRefusalReason;
  readonly claim: string | undefined;
  constructor(reason: JwtRefusalReason, message: string, claim?: string) {
    super(message);
    this.reason = reason;
    this.claim = claim;
  }
}

export interface VerifyOptions {
  issuer: string;
  /** The resource this token must be meant for: `aud` equals it or, as an array, contains it. */
  audience: string;
  clockToleranceS: number;
  /** The current time in seconds since the epoch; defaults to the clock. */
  nowS?: number;
}

/**
 * Imports the keys of a JWKS that may verify ES256: EC P-256 keys whose `alg` (if any) is ES256, `use`
 * (if any) is `sig`, and `key_ops` (if any) holds `verify` — the keys `jose`'s local JWKS would have
 * offered. Other keys are left out, as they were never selected.
 *
 * @throws TypeError when a key is private or its key material cannot be imported.
 * @example
 * const keys = importEs256Jwks(JSON.parse(jwksJson));
 */
export function importEs256Jwks(jwks: { keys: readonly object[] }): Es256KeySet {
  const keys: Es256Key[] = [];
  for (const [i, jwk] of jwks.keys.entries()) {
    const j = jwk as Record<string, unknown>;
    if ('d' in j) throw new TypeError(`JWKS key ${i} is private; only public keys are trusted`);
    if (j.kid !== undefined && typeof j.kid !== 'string')
      throw new TypeError(`JWKS key ${i}: "kid" must be a string`);
    if (!verifiesEs256(j)) continue;
    let key: KeyObject;
    try {
      key = createPublicKey({ key: j as JsonWebKey, format: 'jwk' });
    } catch (cause) {
      throw new TypeError(`JWKS key ${i} is not a valid P-256 public key`, { cause });
    }
    keys.push({ kid: j.kid, key });
  }
  return { keys };
}

function verifiesEs256(jwk: Record<string, unknown>): boolean {
  const ops = jwk.key_ops;
  return (
    jwk.kty === 'EC' &&
    jwk.crv === 'P-256' &&
    (jwk.alg === undefined || jwk.alg === 'ES256') &&
    (jwk.use === undefined || jwk.use === 'sig') &&
    (jwk.ext === undefined || typeof jwk.ext === 'boolean') &&
    (ops === undefined ||
      (Array.isArray(ops) &&
        ops.every((op, index) => typeof op === 'string' && ops.indexOf(op) === index) &&
        ops.includes('verify')))
  );
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Fatal on bad UTF-8 and BOM-stripping, as jose decoded JSON segments. */
const utf8 = new TextDecoder('utf-8', { fatal: true });
const ACCESS_TOKEN_TYPES = new Set(['at+jwt', 'application/at+jwt']);
/** Checked in this order, so a token missing several names the same claim jose named. */
const REQUIRED_CLAIMS = ['iss', 'aud', 'iat', 'exp', 'sub'] as const;

/**
 * Verifies a compact JWS access token and returns its claims.
 *
 * Algorithm: split into three unpadded base64url segments; parse the header (a JSON object, `alg`
 * ES256, no `crit`/`b64`); select the keys its `kid` names (all when it names none); verify the raw
 * r||s signature over `header.payload` with each until one holds; then parse the claims and check `typ`
 * (RFC 9068), the required claims, `iss`, `aud`, `nbf`, `exp` and that `iat` is not in the future, each
 * time-based check with `clockToleranceS` of slack. Nothing from the token is trusted before its
 * signature is.
 *
 * @throws JwtRefusedError with the reason the token was refused.
 * @example
 * const claims = verifyEs256Jwt(token, trust.keys, { issuer, audience, clockToleranceS: 5 });
 */
export function verifyEs256Jwt(
  token: string,
  keySet: Es256KeySet,
  options: VerifyOptions,
): Record<string, unknown> {
  const segments = token.split('.');
  if (segments.length !== 3) throw malformed('a compact JWS has three segments');
  for (const segment of segments) {
    // A length of 4n+1 cannot be base64url: the last character would carry no whole byte.
    if (!BASE64URL.test(segment) || segment.length % 4 === 1) throw malformed('a segment is not base64url');
  }
  const [encodedHeader, encodedPayload, encodedSignature] = segments as [string, string, string];
  const header = jsonObject(encodedHeader, 'header');
  // No extension is understood; b64 outside crit would be ignored by RFC 7797, but has no use here.
  if (Object.hasOwn(header, 'crit') || Object.hasOwn(header, 'b64')) {
    throw malformed('the "crit" and "b64" header parameters are not supported');
  }
  const { alg, kid } = header;
  if (typeof alg !== 'string' || alg === '') throw malformed('the header has no "alg"');
  if (alg !== 'ES256')
    throw new JwtRefusedError('algorithm', `the "alg" ${JSON.stringify(alg)} is not ES256`);
  const candidates = keySet.keys.filter(
    (k) => kid === undefined || (typeof kid === 'string' && k.kid === kid),
  );
  if (candidates.length === 0) throw new JwtRefusedError('unknown-key', 'no trusted key matches the token');
  const signature = Buffer.from(encodedSignature, 'base64url');
  const signingInput = Buffer.from(`${encodedHeader}.${encodedPayload}`, 'latin1');
  const valid =
    signature.length === 64 &&
    candidates.some(({ key }) =>
      verify('sha256', signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature),
    );
  if (!valid) throw new JwtRefusedError('signature', 'the signature does not verify');
  const claims = jsonObject(encodedPayload, 'payload');
  if (typeof header.typ !== 'string' || !ACCESS_TOKEN_TYPES.has(header.typ.toLowerCase())) {
    throw new JwtRefusedError('typ', 'the "typ" header is not at+jwt');
  }
  checkClaims(claims, options);
  return claims;
}

function checkClaims(claims: Record<string, unknown>, options: VerifyOptions): void {
  for (const claim of REQUIRED_CLAIMS) {
    if (!Object.hasOwn(claims, claim)) throw claimRefused(claim, 'is missing');
  }
  if (claims.iss !== options.issuer) throw claimRefused('iss', 'names another issuer');
  const { aud } = claims;
  if (!(aud === options.audience || (Array.isArray(aud) && aud.includes(options.audience)))) {
    throw claimRefused('aud', 'names another audience');
  }
  const now = options.nowS ?? Math.floor(Date.now() / 1000);
  const tolerance = options.clockToleranceS;
  const { iat, nbf, exp } = claims;
  if (typeof iat !== 'number') throw claimRefused('iat', 'is not a number');
  if (nbf !== undefined) {
    if (typeof nbf !== 'number') throw claimRefused('nbf', 'is not a number');
    if (nbf > now + tolerance) throw claimRefused('nbf', 'is in the future');
  }
  if (typeof exp !== 'number') throw claimRefused('exp', 'is not a number');
  if (exp <= now - tolerance) throw new JwtRefusedError('expired', 'the token has expired', 'exp');
  // A token "issued" in the future is forged or from a badly wrong clock, and could otherwise carry
  // an arbitrarily distant expiry.
  if (iat > now + tolerance)
    throw new JwtRefusedError('issued-in-future', 'the "iat" claim is in the future', 'iat');
}

function jsonObject(segment: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    throw malformed(`the ${what} is not JSON`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw malformed(`the ${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

function malformed(message: string): JwtRefusedError {
  return new JwtRefusedError('malformed', message);
}

function claimRefused(claim: string, what: string): JwtRefusedError {
  return new JwtRefusedError('claim', `the "${claim}" claim ${what}`, claim);
}
