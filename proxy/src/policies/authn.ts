/**
 * Authenticates MCP requests: a bearer JWT signed by the trusted issuer, ES256 only, whose audience is
 * this server's canonical resource URI, or an API key scoped to this server (`api-key.ts`). The token never leaves this module's caller toward the upstream.
 *
 * @module
 */
import { errors, jwtVerify } from 'jose';
import { TesseraError } from '../errors.ts';
import type { TrustIR } from '../ir/proxy-config.ts';
import { isApiKey, verifyApiKey } from './api-key.ts';

const CLOCK_TOLERANCE_S = 5;

/** Who is calling. `name` is what grants match: the email claim when present, else the subject. */
export interface Principal {
  name: string;
  subject: string;
  groups: string[];
  clientId: string;
  /** Every verified claim of the token, for claim matchers and CEL conditions. */
  claims: Readonly<Record<string, unknown>>;
  /**
   * The token's `scope` claim (RFC 9068), split on spaces. Absent for API keys: a key is issued for
   * named servers, and that binding is its whole scope.
   */
  scopes?: string[];
}

/** Extracts the bearer token; tokens in query strings are never looked at. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
  return m?.[1];
}

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'the token has expired';
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'typ')
    return 'the token is not an access token (typ)';
  if (err instanceof errors.JWTClaimValidationFailed)
    return `the token's "${err.claim}" claim is not accepted`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted';
  if (err instanceof errors.JWTClaimValidationFailed && err.claim === 'typ')
    return 'the token is not an access token (typ)';
  if (err instanceof errors.JWKSNoMatchingKey) return 'the token was signed by an unknown key';
  return 'the token is malformed';
}

/**
 * Tokens already verified, per trust bundle: a new bundle (key rotation, new issuer) starts with an
 * empty cache. ES256 verification was the largest single cost per request in the proxy's profile,
 * and clients reuse one token for many calls.
 */
const verified = new WeakMap<
  TrustIR,
  Map<string, { principal: Principal; audience: string; untilS: number }>
>();
const MAX_CACHED_TOKENS = 10_000;
/** A cached verification is trusted at most this long, even for a token that lives longer. */
const MAX_CACHE_S = 300;

/**
 * Verifies a bearer token for the resource `audience`.
 *
 * @throws TesseraError `TESSERA_UNAUTHENTICATED` with a reason safe to show the caller.
 */
export async function authenticate(token: string, trust: TrustIR, audience: string): Promise<Principal> {
  // API keys are scoped by the bundle itself (it holds only this server's keys), so no audience check.
  if (isApiKey(token)) return verifyApiKey(token, trust.apiKeys);
  let cache = verified.get(trust);
  if (!cache) {
    cache = new Map();
    verified.set(trust, cache);
  }
  const nowS = Date.now() / 1000;
  const hit = cache.get(token);
  if (hit && hit.audience === audience && nowS < hit.untilS) return hit.principal;
  const { principal, exp } = await verify(token, trust, audience);
  // The oldest entry goes first when full (a Map iterates in insertion order).
  if (cache.size >= MAX_CACHED_TOKENS) cache.delete(cache.keys().next().value!);
  cache.set(token, { principal, audience, untilS: Math.min(exp + CLOCK_TOLERANCE_S, nowS + MAX_CACHE_S) });
  return principal;
}

async function verify(
  token: string,
  trust: TrustIR,
  audience: string,
): Promise<{ principal: Principal; exp: number }> {
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, trust.keys, {
      issuer: trust.issuer,
      audience,
      algorithms: ['ES256'],
      requiredClaims: ['sub', 'exp', 'iat'],
      // RFC 9068: only access tokens, never an ID token or another JWT from the same issuer.
      typ: 'at+jwt',
      clockTolerance: CLOCK_TOLERANCE_S,
    }));
  } catch (err) {
    throw new TesseraError('TESSERA_UNAUTHENTICATED', describe(err), { cause: err });
  }
  // jose checks iat only against a maximum age; a token "issued" in the future is forged or from a
  // badly wrong clock, and could otherwise carry an arbitrarily distant expiry.
  if ((payload.iat as number) > Date.now() / 1000 + CLOCK_TOLERANCE_S) {
    throw new TesseraError('TESSERA_UNAUTHENTICATED', 'the token\'s "iat" claim is in the future');
  }
  if (typeof payload.sub !== 'string' || payload.sub === '') {
    throw new TesseraError('TESSERA_UNAUTHENTICATED', 'the token\'s "sub" claim must be a non-empty string');
  }
  const subject = payload.sub;
  const email = typeof payload.email === 'string' && payload.email ? payload.email : undefined;
  const groups = Array.isArray(payload.groups)
    ? payload.groups.filter((g): g is string => typeof g === 'string')
    : [];
  const clientId = typeof payload.client_id === 'string' ? payload.client_id : '';
  const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
  return {
    principal: { name: email ?? subject, subject, groups, clientId, claims: payload, scopes },
    exp: payload.exp as number,
  };
}
