/**
 * A sidecar's upstream: the Streamable HTTP MCP server beside it, over keep-alive HTTP/1.1 on
 * loopback (`http1-transport.ts`). Requests go straight through (`http-upstream.ts`), except modern
 * (2026-07-28) ones to a server that speaks only the session-bound revision, which go through
 * sessions the proxy opens (`session-bridge.ts`).
 *
 * @module
 */

import type { Log } from '../telemetry/log.ts';
import { createHttpUpstream } from './http-upstream.ts';
import { createHttp1Transport } from './http1-transport.ts';
import { createSessionBridge } from './session-bridge.ts';
import type { Upstream } from './upstream.ts';
import type { UpstreamTransport } from './upstream-transport.ts';

export interface SidecarUpstreamOptions {
  url: URL;
  log: Log;
  /** What the proxy calls itself when it opens sessions of its own. */
  clientInfo: { name: string; version: string };
  /** Sessions the proxy opens for modern requests to a legacy server, at most. Default 32. */
  maxSessions?: number;
  statelessPerPrincipal?: number;
  maxPendingRequests?: number;
  /** Default: keep-alive connections to the URL's origin. */
  transport?: UpstreamTransport;
}

export function createSidecarUpstream(options: SidecarUpstreamOptions): Upstream {
  const transport =
    options.transport ??
    createHttp1Transport({ url: options.url, connections: 64, headersTimeoutMs: 60_000 });
  return createSessionBridge({
    ...options,
    transport,
    path: `${options.url.pathname}${options.url.search}`,
    direct: createHttpUpstream({ url: options.url, log: options.log, transport }),
  });
}
