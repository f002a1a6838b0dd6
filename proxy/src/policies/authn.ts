/**
 * Authenticates MCP requests: a bearer JWT signed by the trusted issuer, ES256 only, whose audience is
 * this server's canonical resource URI. The token never leaves this module's caller toward the upstream.
 *
 * @module
 */
import { errors, jwtVerify } from 'jose';
import { TesseraError } from '../errors.ts';
import type { TrustIR } from '../ir/proxy-config.ts';

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
  if (err instanceof errors.JWTClaimValidationFailed)
    return `the token's "${err.claim}" claim is not accepted`;
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'the token signature is invalid';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'the token algorithm is not accepted';
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
      clockTolerance: 5,
    }));
  } catch (err) {
    throw new TesseraError('TESSERA_UNAUTHENTICATED', describe(err), { cause: err });
  }
  const subject = String(payload.sub);
  const email = typeof payload.email === 'string' && payload.email ? payload.email : undefined;
  const groups = Array.isArray(payload.groups)
    ? payload.groups.filter((g): g is string => typeof g === 'string')
    : [];
  const clientId = typeof payload.client_id === 'string' ? payload.client_id : '';
  return { name: email ?? subject, subject, groups, clientId };
}
