/**
 * Kubernetes stream authentication: a proxy presents its projected service-account token (audience
 * `tessera-mesh`); the control plane asks the API server whether it is valid (TokenReview) and maps
 * the service account to the one server it may serve.
 *
 * The mapping: service account `tessera-<server>` may claim server `<server>` — the controller
 * creates one ServiceAccount per MCPServer under that name (`kubernetes/render.ts`
 * `serviceAccountName`) — in any namespace unless `namespaces` restricts them. A valid token of any
 * other service account is refused with
 * `PERMISSION_DENIED`; an invalid one with `UNAUTHENTICATED`. Answers are cached briefly (positive
 * and negative) so that a reconnect storm does not become a TokenReview storm; a cached identity
 * never outlives the token's own `exp`.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { Code, ConnectError } from '@connectrpc/connect';
import type { MeshAuthenticator, MeshIdentity } from './mesh-auth.ts';

export const MESH_AUDIENCE = 'tessera-mesh';

/** What TokenReview said about one token (`status` of a `TokenReview`). */
export interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string };
  audiences?: string[];
  error?: string;
}

/** Calls TokenReview for a token with the mesh audience. */
export type TokenReviewer = (token: string, audiences: string[]) => Promise<TokenReviewStatus>;

const SA_USER = /^system:serviceaccount:([a-z0-9-]{1,63}):([a-z0-9.-]{1,253})$/;
/** The controller's naming of a server's service account; kept in step with `serviceAccountName`. */
const SA_PREFIX_TEXT = 'tessera-';
const SA_PREFIX = /^tessera-/;
const SERVER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The identity a TokenReview answer grants, or the ConnectError to refuse with. Pure.
 */
export function identityFromReview(
  status: TokenReviewStatus,
  namespaces: readonly string[],
): MeshIdentity | ConnectError {
  if (!status.authenticated) {
    return new ConnectError(
      `the service-account token was not accepted${status.error ? `: ${status.error}` : ''}`,
      Code.Unauthenticated,
    );
  }
  // An API server that does not support audiences answers without them; then nothing proves the
  // token was minted for us rather than for some other service, so it is refused.
  if (!status.audiences?.includes(MESH_AUDIENCE)) {
    return new ConnectError(`the token's audience must include "${MESH_AUDIENCE}"`, Code.Unauthenticated);
  }
  const user = SA_USER.exec(status.user?.username ?? '');
  if (!user) {
    return new ConnectError(
      `"${status.user?.username ?? ''}" is not a service account; proxies authenticate as one`,
      Code.PermissionDenied,
    );
  }
  const [, namespace, name] = user as unknown as [string, string, string];
  if (namespaces.length > 0 && !namespaces.includes(namespace)) {
    return new ConnectError(`namespace "${namespace}" may not run mesh proxies`, Code.PermissionDenied);
  }
  const server = SA_PREFIX.test(name) ? name.slice(SA_PREFIX_TEXT.length) : '';
  if (!SERVER_NAME.test(server)) {
    return new ConnectError(
      `service account ${namespace}/${name} serves no server: a proxy runs as the service account tessera-<server>`,
      Code.PermissionDenied,
    );
  }
  return { kind: 'serviceaccount', namespace, name, server };
}

/** Seconds since the epoch at which a JWT expires, read without verifying (TokenReview verifies). */
function expiryOf(token: string): number | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as {
      exp?: unknown;
    };
    return typeof payload.exp === 'number' ? payload.exp : undefined;
  } catch {
    return undefined;
  }
}

export interface KubernetesAuthenticatorOptions {
  review: TokenReviewer;
  /** Bootstrap tokens (tpx1 / the mesh secret) keep working next to service-account tokens. */
  local: MeshAuthenticator;
  /** Namespaces whose service accounts are accepted; empty: any. */
  namespaces?: readonly string[];
  /** How long an answer is reused. */
  cacheMs?: number;
  now?: () => number;
}

/**
 * @example
 * const authenticate = createKubernetesAuthenticator({ review: kubeTokenReviewer(), local: localAuthenticator(secret) });
 */
export function createKubernetesAuthenticator(options: KubernetesAuthenticatorOptions): MeshAuthenticator {
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 30_000;
  const namespaces = options.namespaces ?? [];
  const cache = new Map<string, { until: number; result: Promise<MeshIdentity | ConnectError> }>();
  return async (authorization) => {
    const token = /^Bearer (\S+)$/i.exec(authorization ?? '')?.[1];
    // A JWT has three base64url parts; anything else, and a tpx1 proxy token, is a bootstrap token.
    if (!token || token.startsWith('tpx1.') || !/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token))
      return options.local(authorization);
    const key = createHash('sha256').update(token).digest('hex');
    const t = now();
    let entry = cache.get(key);
    if (!entry || entry.until <= t) {
      const exp = expiryOf(token);
      const until = Math.min(t + cacheMs, exp ? exp * 1000 : Number.POSITIVE_INFINITY);
      const result = options.review(token, [MESH_AUDIENCE]).then(
        (status) => identityFromReview(status, namespaces),
        (err: Error) => {
          cache.delete(key); // an unreachable API server is not an answer worth keeping
          return new ConnectError(`TokenReview failed: ${err.message}`, Code.Unavailable);
        },
      );
      entry = { until, result };
      if (cache.size > 10_000) cache.clear();
      cache.set(key, entry);
    }
    const identity = await entry.result;
    if (identity instanceof ConnectError) throw identity;
    return identity;
  };
}

/**
 * A TokenReviewer over the Kubernetes API (in-cluster configuration, else `KUBECONFIG`).
 */
export async function kubeTokenReviewer(): Promise<TokenReviewer> {
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromDefault();
  const api = kc.makeApiClient(k8s.AuthenticationV1Api);
  return async (token, audiences) => {
    const review = await api.createTokenReview({
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } },
    });
    return review.status ?? {};
  };
}
