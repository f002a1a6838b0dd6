/**
 * Authenticates callers of the mesh API. Locally, proxies present the bootstrap mesh token; the
 * comparison is constant-time. (Kubernetes service-account tokens arrive with the cluster work.)
 *
 * @module
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { Code, ConnectError } from '@connectrpc/connect';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time equality of two secrets of any length. */
export function secretEquals(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** @throws ConnectError `UNAUTHENTICATED` unless the header carries the mesh token. */
export function requireMeshToken(authorization: string | null, meshToken: string): void {
  const m = /^Bearer (\S+)$/i.exec(authorization ?? '');
  if (!m || !secretEquals(m[1]!, meshToken)) {
    throw new ConnectError('a valid mesh token is required', Code.Unauthenticated);
  }
}
