/**
 * Authenticates callers of the mesh API. Two kinds of bearer token are accepted, both compared in
 * constant time:
 *   - a proxy token, `tpx1.<server>.<mac>`, where mac = HMAC-SHA256(mesh secret, "tessera-proxy:<server>"):
 *     the caller may act only for that server (its configuration, its audit);
 *   - the mesh secret itself, the operator's root credential, which may act for any server and is
 *     never handed to proxies.
 * In Kubernetes mode a third kind is accepted, a projected service-account token checked by
 * TokenReview (`token-review.ts`), which yields a `serviceaccount` identity.
 *
 * @module
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { Code, ConnectError } from '@connectrpc/connect';

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** Constant-time equality of two secrets of any length. */
export function secretEquals(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Who is calling the mesh API. */
export type MeshIdentity =
  | { kind: 'root' }
  | { kind: 'proxy'; server: string }
  /** A Kubernetes service account named after its server, authenticated by TokenReview. */
  | { kind: 'serviceaccount'; namespace: string; name: string; server: string };

/** Authenticates the `Authorization` header of a mesh call. @throws ConnectError `UNAUTHENTICATED`. */
export type MeshAuthenticator = (authorization: string | null) => Promise<MeshIdentity>;

/** The authenticator of local mode: bootstrap tokens only. */
export function localAuthenticator(meshSecret: string): MeshAuthenticator {
  return async (authorization) => requireMeshToken(authorization, meshSecret);
}

/** The mesh token of the proxies of one server (what local mode gives each proxy it starts). */
export function proxyMeshToken(meshSecret: string, server: string): string {
  const mac = createHmac('sha256', meshSecret).update(`tessera-proxy:${server}`).digest('base64url');
  return `tpx1.${server}.${mac}`;
}

/** @throws ConnectError `UNAUTHENTICATED` unless the header carries a valid mesh token. */
export function requireMeshToken(authorization: string | null, meshSecret: string): MeshIdentity {
  const m = /^Bearer (\S+)$/i.exec(authorization ?? '');
  const token = m?.[1];
  if (token && meshSecret) {
    const proxy = /^tpx1\.([a-z0-9-]{1,63})\.[A-Za-z0-9_-]+$/.exec(token);
    if (proxy && secretEquals(token, proxyMeshToken(meshSecret, proxy[1]!)))
      return { kind: 'proxy', server: proxy[1]! };
    if (secretEquals(token, meshSecret)) return { kind: 'root' };
  }
  throw new ConnectError('a valid mesh token is required', Code.Unauthenticated);
}

/** @throws ConnectError `PERMISSION_DENIED` when a proxy identity acts for another server. */
export function requireServer(identity: MeshIdentity, server: string, what: string): void {
  if (identity.kind !== 'root' && identity.server !== server) {
    const who =
      identity.kind === 'proxy'
        ? 'this mesh token'
        : `service account ${identity.namespace}/${identity.name}`;
    throw new ConnectError(
      `${what}: ${who} belongs to server "${identity.server}", not "${server}"`,
      Code.PermissionDenied,
    );
  }
}

/**
 * @throws ConnectError `PERMISSION_DENIED` when a stream's node claims a server, namespace or service
 * account other than the authenticated identity's.
 */
export function requireNode(
  identity: MeshIdentity,
  node: { mcpServer: string; namespace: string; serviceAccount: string },
): void {
  requireServer(identity, node.mcpServer, 'node.mcp_server');
  if (identity.kind !== 'serviceaccount') return;
  if (node.namespace && node.namespace !== identity.namespace) {
    throw new ConnectError(
      `node.namespace: "${node.namespace}" is not the authenticated namespace "${identity.namespace}"`,
      Code.PermissionDenied,
    );
  }
  if (node.serviceAccount && node.serviceAccount !== identity.name) {
    throw new ConnectError(
      `node.service_account: "${node.serviceAccount}" is not the authenticated service account "${identity.name}"`,
      Code.PermissionDenied,
    );
  }
}
