/**
 * Authenticates MCP requests: a bearer JWT signed by the trusted issuer, ES256 only, whose audience is
 * this server's canonical resource URI. The token never leaves this module's caller toward the upstream.
 *
 * @module
 */
import { errors, jwtVerify } from 'jose';
import { TesseraError } from '../errors.ts';
import type { TrustIR } from '../ir/proxy-config.ts';

const CLOCK_TOLERANCE_S = 5;

/** Who is calling. `name` is what grants match: the email claim when present, else the subject. */
export interface Principal {
  name: string;
  subject: string;
  groups: string[];
  clientId: string;
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
 * Verifies a bearer token for the resource `audience`.
 *
 * @throws TesseraError `TESSERA_UNAUTHENTICATED` with a reason safe to show the caller.
 */
export async function authenticate(token: string, trust: TrustIR, audience: string): Promise<Principal> {
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
  return { name: email ?? subject, subject, groups, clientId };
}
