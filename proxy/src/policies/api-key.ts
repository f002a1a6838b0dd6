/**
 * Verifies Tessera API keys (`tsk_<id>_<secret>`) locally, against the hashes the control plane
 * pushes in the trust bundle. The proxy holds no secret: it hashes what the caller presents and
 * compares in constant time with the stored SHA-256. SHA-256 suffices (rather than a slow password
 * hash) because the secret is 256 random bits: there is nothing to guess by brute force.
 *
 * @module
 */
import { hash, timingSafeEqual } from 'node:crypto';
import { TesseraError } from '../errors.ts';
import type { ApiKeyIR } from '../ir/proxy-config.ts';
import type { Principal } from './authn.ts';

export const API_KEY_PREFIX = 'tsk_';
const FORMAT = /^tsk_([a-z0-9]{16})_[A-Za-z0-9_-]{43}$/;

/** Whether a bearer value is meant as an API key (and so must not be tried as a JWT). */
export function isApiKey(token: string): boolean {
  return token.startsWith(API_KEY_PREFIX);
}

/**
 * @throws TesseraError `TESSERA_UNAUTHENTICATED` for a malformed, unknown, wrong, revoked or expired key.
 */
export function verifyApiKey(
  token: string,
  keys: ReadonlyMap<string, ApiKeyIR>,
  nowMs = Date.now(),
): Principal {
  const id = FORMAT.exec(token)?.[1];
  if (!id) throw new TesseraError('TESSERA_UNAUTHENTICATED', 'the API key is malformed');
  const key = keys.get(id);
  const presented = hash('sha256', token, 'buffer');
  // Compare even when the id is unknown, so that timing does not tell known ids from unknown ones.
  const expected = key?.sha256 ?? Buffer.alloc(32);
  if (!timingSafeEqual(presented, expected) || !key)
    throw new TesseraError('TESSERA_UNAUTHENTICATED', 'the API key is not valid for this server');
  if (nowMs >= key.expiresAtMs) throw new TesseraError('TESSERA_UNAUTHENTICATED', 'the API key has expired');
  const subject = `apikey:${id}`;
  const groups = [...key.groups];
  // The claims an API key stands for, so that rules and CEL conditions see the same names as for a token.
  const claims = { sub: subject, email: key.user, groups, client_id: subject };
  return { name: key.user, subject, groups, clientId: subject, claims, expiresAtMs: key.expiresAtMs };
}
