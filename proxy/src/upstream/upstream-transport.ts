/**
 * How the HTTP upstream sends one request: the seam between the exchange logic (`http-upstream.ts`)
 * and the client library. The sidecar path uses a minimal keep-alive HTTP/1.1 client over `node:net`
 * (`http1-transport.ts`): its upstream is a local server on loopback, and `node:http`'s client cost
 * more CPU and allocation per request than anything else in the proxy; undici would also add ~12 MB of
 * private memory to every sidecar. Egress uses undici, for its connector hooks (the SSRF guard), TLS
 * and its redirect interceptor.
 *
 * @module
 */
import type { Readable } from 'node:stream';

export interface UpstreamRequest {
  method: string;
  /** Path and query on the upstream's origin. */
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
  /** Aborts the request, or the response body while it streams. */
  signal: AbortSignal;
  /** Headers to drop if a redirect leaves the origin (the proxy's own credentials). */
  stripOnCrossOriginRedirect: readonly string[];
}

export interface UpstreamResponse {
  statusCode: number;
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** A byte stream (Buffers). */
  body: Readable;
}

export interface UpstreamTransport {
  /**
   * Sends a request and resolves with the response head. Rejects with an error whose `code` names the
   * failure: `UPSTREAM_HEADERS_TIMEOUT` when no response head arrived in time, otherwise the
   * library's or the system's code (`ECONNREFUSED`, `UND_ERR_…`, TLS codes).
   */
  request(request: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}
