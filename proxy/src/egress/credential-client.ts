/**
 * The egress proxy's source of upstream credentials: asks the control plane's `CredentialService`
 * for the headers to present upstream on behalf of a user, and caches the answer per user.
 *
 * - A credential is cached until its `expires_at` (less a small margin, so it is never sent in its
 *   last seconds), or for the configured default TTL when the control plane sets none.
 * - The cache is bounded; the least recently used user leaves first.
 * - Concurrent requests for the same user share one call (a burst asks once).
 * - Failures are cached briefly too, so a control-plane outage does not turn every request into a
 *   call that waits for its deadline; with no valid cached credential the proxy fails closed.
 * - An answer with `connect_url` (the user has not connected a required account) is cached as briefly
 *   as a failure, so the user's next try after connecting goes through.
 *
 * @module
 */
import type { CredentialResponse } from '@tessera/api/mesh/v1/credentials';
import { TesseraError } from '../errors.ts';
import { MeshCallError } from '../mesh-api/connect-error.ts';
import type { MeshTransport } from '../mesh-api/mesh-transport.ts';
import {
  decodeCredentialResponse,
  encodeCredentialRequest,
  timestampMs,
} from '../mesh-api/protobuf/mesh-messages.ts';

/** What the proxy sends upstream for one user, or where that user must connect an account first. */
export interface Credential {
  /** Header name (lower case) → value, added to every upstream request for this user. */
  headers: Record<string, string>;
  /** Set (and `headers` empty) when the user must connect an account at this URL first. */
  connectUrl: string | undefined;
}

export interface CredentialClientOptions {
  transport: Pick<MeshTransport, 'unary'>;
  /** The server this proxy fronts; the control plane checks it against the proxy's mesh identity. */
  server: string;
  /** How long a credential without `expires_at` is cached. */
  defaultTtlMs: number;
  /** Most users cached at once. */
  maxEntries: number;
  /** How long a failure (or a `connect_url` answer) is cached; default 5 s. */
  errorTtlMs?: number;
  /** Deadline of one call to the control plane; default 5 s. */
  timeoutMs?: number;
  /** Test seam: the current time in milliseconds. */
  now?: () => number;
}

export interface CredentialClient {
  /**
   * The credential for `user` (the principal's name: the token's `email`, else its `sub`).
   *
   * @throws TesseraError `TESSERA_CREDENTIAL_UNAVAILABLE` when the control plane failed or answered
   *   something unusable and nothing valid is cached.
   */
  get(user: string): Promise<Credential>;
  /** Users currently cached (credentials and failures). */
  size(): number;
}

const GET_CREDENTIAL = '/tessera.mesh.v1.CredentialService/GetCredential';

/** A credential is dropped this long before it expires. */
const EXPIRY_MARGIN_MS = 10_000;

/** Headers the control plane may not set: they belong to the HTTP connection or to the proxy. */
const reservedHeaders = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'content-type',
  'accept',
  'cookie',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'traceparent',
  'tracestate',
]);
const token = /^[!#$%&'*+.^_`|~0-9a-z-]+$/;

/** Validates a control-plane answer; an invalid one is a failure, never half-applied. */
export function toCredential(r: CredentialResponse): Credential {
  const headers: Record<string, string> = {};
  for (const h of r.headers) {
    const name = h.name.toLowerCase();
    if (!token.test(name)) throw new TypeError(`header name "${h.name}" is not an HTTP token`);
    if (reservedHeaders.has(name)) throw new TypeError(`header "${name}" may not be set by a credential`);
    if (/[\r\n\0]/.test(h.value))
      throw new TypeError(`header "${name}" has a line break or NUL in its value`);
    if (name in headers) throw new TypeError(`header "${name}" appears twice`);
    headers[name] = h.value;
  }
  if (r.connectUrl === '') return { headers, connectUrl: undefined };
  let url: URL;
  try {
    url = new URL(r.connectUrl);
  } catch {
    throw new TypeError(`connect_url "${r.connectUrl}" is not a URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new TypeError(`connect_url must be http or https, not ${url.protocol}`);
  }
  if (Object.keys(headers).length > 0) throw new TypeError('connect_url is set together with headers');
  return { headers: {}, connectUrl: url.href };
}

type Entry = { until: number; credential: Credential } | { until: number; error: TesseraError };

function describe(err: unknown): string {
  if (err instanceof MeshCallError) {
    switch (err.code) {
      case 'permission_denied':
      case 'unauthenticated':
        return `the control plane refused this proxy (${err.code}: ${err.rawMessage})`;
      case 'unimplemented':
        return 'the control plane does not offer upstream credentials (CredentialService is not implemented)';
      default:
        return `the control plane is unreachable or failed (${err.code}: ${err.rawMessage})`;
    }
  }
  return `the control plane answered an invalid credential: ${(err as Error).message}`;
}

/**
 * Creates the client.
 *
 * @example
 * const credentials = createCredentialClient({ transport, server: 'github', defaultTtlMs: 300_000, maxEntries: 10_000 });
 * const { headers } = await credentials.get('user-1');
 */
export function createCredentialClient(options: CredentialClientOptions): CredentialClient {
  const now = options.now ?? Date.now;
  const errorTtlMs = options.errorTtlMs ?? 5_000;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const cache = new Map<string, Entry>();
  const inFlight = new Map<string, Promise<Credential>>();

  function remember(user: string, entry: Entry): void {
    cache.delete(user);
    cache.set(user, entry);
    while (cache.size > options.maxEntries) cache.delete(cache.keys().next().value as string);
  }

  async function fetchCredential(user: string): Promise<Credential> {
    let response: CredentialResponse;
    let credential: Credential;
    try {
      const request = encodeCredentialRequest({ server: options.server, user });
      response = decodeCredentialResponse(
        await options.transport.unary(GET_CREDENTIAL, request, { timeoutMs }),
      );
      credential = toCredential(response);
    } catch (err) {
      const error = new TesseraError(
        'TESSERA_CREDENTIAL_UNAVAILABLE',
        `the upstream credential is unavailable: ${describe(err)}`,
        { cause: err },
      );
      remember(user, { until: now() + errorTtlMs, error });
      throw error;
    }
    const until = credential.connectUrl
      ? now() + errorTtlMs
      : response.expiresAt
        ? timestampMs(response.expiresAt) - EXPIRY_MARGIN_MS
        : now() + options.defaultTtlMs;
    // A credential about to expire is used for this request only, never cached.
    if (until > now()) remember(user, { until, credential });
    else cache.delete(user);
    return credential;
  }

  return {
    get(user) {
      const hit = cache.get(user);
      if (hit && hit.until > now()) {
        remember(user, hit);
        return 'error' in hit ? Promise.reject(hit.error) : Promise.resolve(hit.credential);
      }
      let pending = inFlight.get(user);
      if (!pending) {
        pending = fetchCredential(user).finally(() => inFlight.delete(user));
        inFlight.set(user, pending);
      }
      return pending;
    },
    size: () => cache.size,
  };
}
