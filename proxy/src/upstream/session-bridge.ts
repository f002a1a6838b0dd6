/**
 * The bridge between the two protocol eras for a Streamable HTTP MCP server, used by the sidecar and
 * by egress. Legacy (2025-11-25) requests, and modern (2026-07-28) ones to a server that speaks that
 * revision, go straight through (`direct`). Most servers still speak only the session-bound revision,
 * so the first modern request asks the server (`server/discover`, as a client falling back would);
 * when it does not answer as a 2026-07-28 server, modern requests are served the way stdio servers'
 * are: through legacy sessions the proxy opens itself (the stateless pool, over
 * `http-session-channel.ts`), loaded only then. A probe that reaches no server, or that the server
 * refuses to let in (`401`, `403`), decides nothing and is tried again with the next request.
 *
 * The probe carries the request's `upstreamHeaders` (egress: the user's credential), and each session
 * speaks through `sessionTransport(user)` of the user it was opened for, so a remote server sees every
 * session under the credential of the one user whose requests it carries.
 *
 * @module
 */

import type { ResponseWriter } from '../http1/outbound-response.ts';
import { FIRST_MODERN_REVISION, proxyRequestMeta } from '../server/protocol-era.ts';
import type { Log } from '../telemetry/log.ts';
import type { Exchange, ForwardResult, Upstream } from './upstream.ts';
import type { UpstreamTransport } from './upstream-transport.ts';

export interface SessionBridgeOptions {
  /** The server's transport: the probe goes through it, and sessions too unless `sessionTransport`. */
  transport: UpstreamTransport;
  /** Path and query of the MCP endpoint. */
  path: string;
  /** What serves requests that need no bridge. */
  direct: Upstream;
  log: Log;
  /** What the proxy calls itself when it opens sessions of its own. */
  clientInfo: { name: string; version: string };
  /** The transport the sessions of `user` speak through (egress: with that user's credential). */
  sessionTransport?: (user: string) => UpstreamTransport;
  /** Sessions the proxy opens for modern requests to a legacy server, at most. Default 32. */
  maxSessions?: number;
  statelessPerPrincipal?: number;
  maxPendingRequests?: number;
}

type ServerEra = 'modern' | 'legacy' | undefined;

/** Whether the server answers `server/discover` as a 2026-07-28 server; undefined when it could not be asked. */
async function probe(
  transport: UpstreamTransport,
  path: string,
  credential: Record<string, string> = {},
): Promise<ServerEra> {
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
        ...credential,
      },
      body: Buffer.from(body),
      signal: AbortSignal.timeout(10_000),
      stripOnCrossOriginRedirect: Object.keys(credential),
    });
    if (res.statusCode === 401 || res.statusCode === 403) {
      res.body.resume();
      return undefined;
    }
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

/**
 * @example
 * const http = createHttpUpstream({ url, log, transport });
 * const upstream = createSessionBridge({ transport, path: '/mcp', direct: http, log, clientInfo });
 */
export function createSessionBridge(options: SessionBridgeOptions): Upstream {
  const { transport, path, direct } = options;
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
      const perUser = options.sessionTransport;
      return createChannelUpstream({
        open: perUser
          ? (handlers, context) =>
              httpSessionChannels({ transport: perUser(String(context.user)), path, log: options.log })(
                handlers,
                context,
              )
          : httpSessionChannels({ transport, path, log: options.log }),
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
      if (exchange.era !== 'modern') return direct.forward(exchange, res);
      if (era === undefined) {
        probing ??= probe(transport, path, exchange.upstreamHeaders).finally(() => {
          probing = undefined;
        });
        era = await probing;
      }
      if (era !== 'legacy') return direct.forward(exchange, res);
      return (await legacyBridge()).forward(exchange, res);
    },
    async close() {
      if (bridge) await (await bridge).close();
      await direct.close();
    },
  };
}
