/**
 * A sidecar's upstream: the Streamable HTTP MCP server beside it. Legacy (2025-11-25) requests, and
 * modern (2026-07-28) ones to a server that speaks that revision, go straight through
 * (`http-upstream.ts`). Most servers still speak only the session-bound revision, so the first modern
 * request asks the server (`server/discover`, as a client falling back would); when it does not answer
 * as a 2026-07-28 server, modern requests are served the way stdio servers' are: through legacy
 * sessions the proxy opens itself (the stateless pool, over `http-session-channel.ts`), loaded only
 * then. A probe that reaches no server decides nothing and is tried again with the next request.
 *
 * @module
 */

import type { ResponseWriter } from '../http1/outbound-response.ts';
import { FIRST_MODERN_REVISION, proxyRequestMeta } from '../server/protocol-era.ts';
import type { Log } from '../telemetry/log.ts';
import { createHttpUpstream } from './http-upstream.ts';
import { createHttp1Transport } from './http1-transport.ts';
import type { Exchange, ForwardResult, Upstream } from './upstream.ts';
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

type ServerEra = 'modern' | 'legacy' | undefined;

/** Whether the server answers `server/discover` as a 2026-07-28 server; undefined when it could not be asked. */
async function probe(transport: UpstreamTransport, path: string): Promise<ServerEra> {
  const body = JSON.stringify({
    jsonrpc: '2.0',
    id: 'tessera-probe',
    method: 'server/discover',
    params: { _meta: proxyRequestMeta() },
  });
  try {
    const res = await transport.request({
      method: 'POST',
      path,
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': FIRST_MODERN_REVISION,
        'mcp-method': 'server/discover',
      },
      body: Buffer.from(body),
      signal: AbortSignal.timeout(10_000),
      stripOnCrossOriginRedirect: [],
    });
    const chunks: Buffer[] = [];
    for await (const chunk of res.body) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    // A JSON answer, or the answer event of a stream: either holds the result.
    const json = text.trimStart().startsWith('{') ? text : /^data: ?(.*)$/m.exec(text)?.[1];
    const versions = (JSON.parse(json ?? 'null') as { result?: { supportedVersions?: unknown } } | null)
      ?.result?.supportedVersions;
    return Array.isArray(versions) && versions.includes(FIRST_MODERN_REVISION) ? 'modern' : 'legacy';
  } catch (err) {
    // Reached, but not a JSON-RPC answer: a server that does not speak the revision. Not reached: unknown.
    return err instanceof SyntaxError ? 'legacy' : undefined;
  }
}

export function createSidecarUpstream(options: SidecarUpstreamOptions): Upstream {
  const transport =
    options.transport ??
    createHttp1Transport({ url: options.url, connections: 64, headersTimeoutMs: 60_000 });
  const path = `${options.url.pathname}${options.url.search}`;
  const http = createHttpUpstream({ url: options.url, log: options.log, transport });
  let era: ServerEra;
  let probing: Promise<ServerEra> | undefined;
  let bridge: Promise<Upstream> | undefined;

  const legacyBridge = (): Promise<Upstream> => {
    bridge ??= (async () => {
      const [{ createChannelUpstream }, { httpSessionChannels }] = await Promise.all([
        import('./channel-upstream.ts'),
        import('./http-session-channel.ts'),
      ]);
      options.log(
        'info',
        'the MCP server does not speak 2026-07-28: modern requests go through sessions',
        {},
      );
      return createChannelUpstream({
        open: httpSessionChannels({ transport, path, log: options.log }),
        kind: 'http-session',
        log: options.log,
        clientInfo: options.clientInfo,
        maxSessions: options.maxSessions,
        statelessPerPrincipal: options.statelessPerPrincipal,
        maxPendingRequests: options.maxPendingRequests,
      });
    })();
    return bridge;
  };

  return {
    async forward(exchange: Exchange, res: ResponseWriter): Promise<ForwardResult> {
      if (exchange.era !== 'modern') return http.forward(exchange, res);
      if (era === undefined) {
        probing ??= probe(transport, path).finally(() => {
          probing = undefined;
        });
        era = await probing;
      }
      if (era !== 'legacy') return http.forward(exchange, res);
      return (await legacyBridge()).forward(exchange, res);
    },
    async close() {
      if (bridge) await (await bridge).close();
      await http.close();
    },
  };
}
