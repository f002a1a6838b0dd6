/**
 * Mints access tokens for MCP servers: ES256 JWTs whose audience is exactly one server's canonical
 * resource URI, so a token for one server is useless at another.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SigningKeys } from '../keys/signing-keys.ts';
import { MCP_SCOPE } from '../mesh/snapshot.ts';

export interface MintRequest {
  keys: SigningKeys;
  issuer: string;
  audience: string;
  subject: string;
  email: string;
  groups: string[];
  ttlSeconds: number;
  clientId?: string;
  now?: Date;
}

export async function mintAccessToken(r: MintRequest): Promise<{ token: string; expiresAt: Date }> {
  const iat = Math.floor((r.now ?? new Date()).getTime() / 1000);
  const exp = iat + r.ttlSeconds;
  const token = await new SignJWT({
    email: r.email,
    groups: r.groups,
    client_id: r.clientId ?? 'tessera-cli',
    scope: MCP_SCOPE,
  })
    .setProtectedHeader({ alg: 'ES256', kid: r.keys.kid, typ: 'at+jwt' })
    .setIssuer(r.issuer)
    .setAudience(r.audience)
    .setSubject(r.subject)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(randomUUID())
    .sign(r.keys.privateKey);
  return { token, expiresAt: new Date(exp * 1000) };
}
