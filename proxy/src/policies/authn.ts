/**
 * Authenticates MCP requests: a bearer JWT access token signed by the trusted issuer, ES256 only, whose
 * audience is this server's canonical resource URI (verified by `es256-jwt.ts`), or an API key scoped to
 * this server (`api-key.ts`). The token never leaves this module's caller toward the upstream.
 *
 * @module
 */
import { TesseraError } from '../errors.ts';
import type { TrustIR } from '../ir/proxy-config.ts';
import { isApiKey, verifyApiKey } from './api-key.ts';
import { JwtRefusedError, verifyEs256Jwt } from './es256-jwt.ts';

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
  /** When the token or API key stops being valid, in milliseconds since the epoch. */
  expiresAtMs?: number;
}

/** Extracts the bearer token; tokens in query strings are never looked at. */
export function bearerToken(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^Bearer[ ]+([A-Za-z0-9\-._~+/]+=*)$/i.exec(header.trim());
  return m?.[1];
}

/** The caller-safe message for a refused token: it names the check that failed, never key material. */
function describe(err: unknown): string {
  if (!(err instanceof JwtRefusedError)) return 'the token is malformed';
  switch (err.reason) {
    case 'expired':
      return 'the token has expired';
    case 'typ':
      return 'the token is not an access token (typ)';
    case 'claim':
      return `the token's "${err.claim}" claim is not accepted`;
    case 'issued-in-future':
      return 'the token\'s "iat" claim is in the future';
    case 'signature':
      return 'the token signature is invalid';
    case 'algorithm':
      return 'the token algorithm is not accepted';
    case 'unknown-key':
      return 'the token was signed by an unknown key';
    case 'malformed':
      return 'the token is malformed';
  }
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
  const { principal, exp } = verify(token, trust, audience);
  // The oldest entry goes first when full (a Map iterates in insertion order).
  if (cache.size >= MAX_CACHED_TOKENS) cache.delete(cache.keys().next().value!);
  cache.set(token, { principal, audience, untilS: Math.min(exp + CLOCK_TOLERANCE_S, nowS + MAX_CACHE_S) });
  return principal;
}

function verify(token: string, trust: TrustIR, audience: string): { principal: Principal; exp: number } {
  let payload: Record<string, unknown>;
  try {
    payload = verifyEs256Jwt(token, trust.keys, {
      issuer: trust.issuer,
      audience,
      clockToleranceS: CLOCK_TOLERANCE_S,
    });
  } catch (err) {
    throw new TesseraError('TESSERA_UNAUTHENTICATED', describe(err), { cause: err });
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
    principal: {
      name: email ?? subject,
      subject,
      groups,
      clientId,
      claims: payload,
      scopes,
      expiresAtMs: (payload.exp as number) * 1000,
    },
    exp: payload.exp as number,
  };
}
