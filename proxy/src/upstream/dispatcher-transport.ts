/**
 * An undici dispatcher behind the upstream transport seam: egress's guarded, TLS-verifying agent with
 * its redirect interceptor, or the plain connection pool of an HTTP+SSE sidecar upstream.
 *
 * @module
 */
import type { Dispatcher } from 'undici';
import type { UpstreamRequest, UpstreamResponse, UpstreamTransport } from './upstream-transport.ts';

export function createDispatcherTransport(dispatcher: Dispatcher, origin: string): UpstreamTransport {
  return {
    async request(r: UpstreamRequest): Promise<UpstreamResponse> {
      const res = await dispatcher.request({
        origin,
        method: r.method as Dispatcher.HttpMethod,
        path: r.path,
        headers: r.headers,
        body: r.body,
        signal: r.signal,
        stripHeadersOnCrossOriginRedirect: [...r.stripOnCrossOriginRedirect],
      } as Dispatcher.RequestOptions);
      return { statusCode: res.statusCode, headers: res.headers, body: res.body };
    },
    close: () => dispatcher.close(),
  };
}
