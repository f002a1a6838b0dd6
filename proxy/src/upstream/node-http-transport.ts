/**
 * The sidecar's transport: `node:http` with a keep-alive agent to the MCP server on localhost.
 *
 * @module
 */
import { Agent, request as httpRequest } from 'node:http';
import type { UpstreamRequest, UpstreamResponse, UpstreamTransport } from './upstream-transport.ts';

export interface NodeHttpTransportOptions {
  /** An `http:` URL; only its host and port are used. */
  url: URL;
  /** Connections kept to the upstream at most. */
  connections: number;
  /** Upper bound for receiving the response head; a body (SSE) may then stream for as long as it needs. */
  headersTimeoutMs: number;
}

function headersTimeout(ms: number): Error {
  return Object.assign(new Error(`no response head in ${ms} ms`), { code: 'UPSTREAM_HEADERS_TIMEOUT' });
}

export function createNodeHttpTransport(options: NodeHttpTransportOptions): UpstreamTransport {
  if (options.url.protocol !== 'http:') throw new TypeError('the node:http transport speaks plain http only');
  // LIFO keeps the hot connections hot and lets the idle ones time out.
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, scheduling: 'lifo' });
  const host = options.url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(options.url.port || 80);

  return {
    request(r: UpstreamRequest): Promise<UpstreamResponse> {
      return new Promise((resolve, reject) => {
        const headers: Record<string, string | number> = { ...r.headers };
        if (r.body) headers['content-length'] = r.body.length;
        const req = httpRequest({
          agent,
          host,
          port,
          method: r.method,
          path: r.path,
          headers,
          signal: r.signal,
        });
        const timer = setTimeout(
          () => req.destroy(headersTimeout(options.headersTimeoutMs)),
          options.headersTimeoutMs,
        );
        req.once('response', (res) => {
          clearTimeout(timer);
          resolve({ statusCode: res.statusCode ?? 502, headers: res.headers, body: res });
        });
        req.once('error', (err) => {
          clearTimeout(timer);
          reject(err);
        });
        req.end(r.body);
      });
    },
    async close() {
      agent.destroy();
    },
  };
}
