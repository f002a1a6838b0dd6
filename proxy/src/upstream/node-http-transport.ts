/**
 * The sidecar's transport: `node:http` with a keep-alive agent to the MCP server on localhost.
 *
 * @module
 */
import { Agent, type ClientRequest, request as httpRequest } from 'node:http';
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

  // One sweep over the requests still waiting for their head, instead of a timer armed and cleared
  // for every request. Requests share one timeout, so insertion order is deadline order.
  const ms = options.headersTimeoutMs;
  const waiting = new Map<ClientRequest, number>();
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    const now = Date.now();
    for (const [req, deadline] of waiting) {
      if (deadline > now) break;
      waiting.delete(req);
      req.destroy(headersTimeout(ms));
    }
    if (waiting.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  const watch = (req: ClientRequest) => {
    waiting.set(req, Date.now() + ms);
    if (!sweeper) {
      sweeper = setInterval(sweep, Math.max(10, Math.min(1_000, ms / 4)));
      sweeper.unref();
    }
  };

  return {
    request(r: UpstreamRequest): Promise<UpstreamResponse> {
      return new Promise((resolve, reject) => {
        const { headers } = r;
        if (r.body) headers['content-length'] = String(r.body.length);
        const req = httpRequest({
          agent,
          host,
          port,
          method: r.method,
          path: r.path,
          headers,
          signal: r.signal,
        });
        watch(req);
        req.once('response', (res) => {
          waiting.delete(req);
          resolve({ statusCode: res.statusCode ?? 502, headers: res.headers, body: res });
        });
        req.once('error', (err) => {
          waiting.delete(req);
          reject(err);
        });
        req.end(r.body);
      });
    },
    async close() {
      clearInterval(sweeper);
      agent.destroy();
    },
  };
}
