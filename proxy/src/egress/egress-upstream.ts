/**
 * The egress upstream: a remote MCP server over https. It is the HTTP upstream with three
 * differences:
 *   1. connections go through the guarded connector (TLS verified, SSRF guard after DNS resolution);
 *   2. redirects are followed by the proxy, up to `MAX_REDIRECTS`, each target checked again by the
 *      connector (https only; 307/308 keep the method and body, 301/302/303 turn a POST into a GET as
 *      fetch does); a redirect that leaves the upstream's origin loses the credential headers;
 *   3. each exchange carries the user's upstream credential from the control plane, or is answered
 *      with the credential error when there is none (fail closed).
 *
 * Modern (2026-07-28) requests to a remote server that speaks only 2025-11-25 go through sessions the
 * proxy opens (`session-bridge.ts`), one set per user, each request of a session carrying that user's
 * credential as it stands then (refreshed from the cache, so an expired one is replaced). A remote
 * server that speaks only the deprecated HTTP+SSE transport (`transport: 'sse'`, the URL is its SSE
 * URL) is served the same way as in sidecar mode (`sse-legacy-upstream.ts`): the stream and every POST
 * of a user's connection carry that user's credential.
 *
 * The client's own `Authorization`, cookies and every header outside the HTTP upstream's short list
 * never reach the remote server.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { Agent, interceptors } from 'undici';
import { TesseraError } from '../errors.ts';
import type { ResponseWriter } from '../http1/outbound-response.ts';
import type { JsonRpcRequest } from '../server/jsonrpc.ts';
import type { Log } from '../telemetry/log.ts';
import { answerError } from '../upstream/answer-error.ts';
import { createDispatcherTransport } from '../upstream/dispatcher-transport.ts';
import { createHttpUpstream } from '../upstream/http-upstream.ts';
import { createSessionBridge } from '../upstream/session-bridge.ts';
import { createSseLegacyUpstream } from '../upstream/sse-legacy-upstream.ts';
import type { Exchange, ForwardResult, Upstream } from '../upstream/upstream.ts';
import type { UpstreamTransport } from '../upstream/upstream-transport.ts';
import { acceptsUrlElicitation, connectInputRequired, withoutConnectRound } from './connect-input.ts';
import type { CredentialClient } from './credential-client.ts';
import { createGuardedConnector, type GuardedConnectOptions } from './guarded-connect.ts';
import type { AllowList } from './ssrf-guard.ts';

/** Redirect hops followed before the exchange fails. */
export const MAX_REDIRECTS = 3;

export interface EgressUpstreamOptions {
  /** The remote MCP server's Streamable HTTP URL; https. */
  url: URL;
  allow: AllowList;
  /** Extra CA certificates (PEM) trusted besides Node's roots. */
  ca?: string;
  connectTimeoutMs: number;
  /** Most connections per origin. */
  maxConnections: number;
  credentials: CredentialClient;
  log: Log;
  /** What the proxy calls itself when it opens sessions of its own. */
  clientInfo: { name: string; version: string };
  /** What the remote server speaks; default `streamable-http`. */
  transport?: 'streamable-http' | 'sse';
  /** Sessions (or SSE connections) the proxy opens, at most. Default 32. */
  maxSessions?: number;
  /** HTTP+SSE: a session with no open exchange for this long is closed. Default 15 minutes. */
  idleTimeoutMs?: number;
  statelessPerPrincipal?: number;
  maxPendingRequests?: number;
  /** Test seam: host name resolution. */
  resolve?: GuardedConnectOptions['resolve'];
}

/** The JSON-RPC error `data` of MCP's URLElicitationRequiredError, pointing the user at `url`. */
export function connectRequiredData(url: string, message: string) {
  return { elicitations: [{ mode: 'url', elicitationId: randomUUID(), url, message }] };
}

/** The 2026-07-28 answer for a user who must connect an account first (`connect-input.ts`). */
function askToConnect(
  res: ResponseWriter,
  exchange: Exchange,
  request: JsonRpcRequest,
  url: string,
  message: string,
): ForwardResult {
  if (!acceptsUrlElicitation(request)) {
    const error = new TesseraError(
      'TESSERA_MISSING_CLIENT_CAPABILITY',
      `${message}; this client did not declare URL elicitation, which the proxy needs to send you there`,
    );
    return answerError(res, exchange, error, { requiredCapabilities: { elicitation: { url: {} } } });
  }
  const body = JSON.stringify({ jsonrpc: '2.0', id: request.id, result: connectInputRequired(url, message) });
  res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  return {
    status: 200,
    errorCode: 0,
    responseBytes: Buffer.byteLength(body),
    sessionId: undefined,
    reason: 'the user must connect an account first',
  };
}

export function createEgressUpstream(options: EgressUpstreamOptions): Upstream {
  if (options.url.protocol !== 'https:')
    throw new TypeError(`egress upstream URL must be https, not ${options.url.protocol}`);
  const agent = new Agent({
    connect: createGuardedConnector({
      allow: options.allow,
      ca: options.ca,
      connectTimeoutMs: options.connectTimeoutMs,
      resolve: options.resolve,
    }),
    connections: options.maxConnections,
    keepAliveTimeout: 30_000,
    headersTimeout: 60_000,
    // SSE streams may be idle for long stretches; the client's disconnect ends them.
    bodyTimeout: 0,
  });
  const transport = createDispatcherTransport(
    agent.compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS, throwOnMaxRedirect: true })),
    options.url.origin,
  );
  /** The transport of one user's sessions: the user's credential on every request, fail closed. */
  const asUser = (user: string): UpstreamTransport => ({
    async request(request) {
      const credential = await options.credentials.get(user);
      if (credential.connectUrl)
        throw new TesseraError('TESSERA_CONNECT_REQUIRED', 'the user must connect an account first');
      return transport.request({
        ...request,
        headers: { ...request.headers, ...credential.headers },
        stripOnCrossOriginRedirect: Object.keys(credential.headers),
      });
    },
    // The shared transport is closed with the upstream, not with one user's sessions.
    close: async () => {},
  });
  /** What the sessions the proxy opens itself are told, either way. */
  const sessions = {
    log: options.log,
    clientInfo: options.clientInfo,
    maxSessions: options.maxSessions,
    statelessPerPrincipal: options.statelessPerPrincipal,
    maxPendingRequests: options.maxPendingRequests,
  };
  const upstream =
    options.transport === 'sse'
      ? createSseLegacyUpstream({
          ...sessions,
          url: options.url,
          idleTimeoutMs: options.idleTimeoutMs,
          transport: (context) => asUser(String(context.user)),
        })
      : createSessionBridge({
          ...sessions,
          transport,
          path: `${options.url.pathname}${options.url.search}`,
          direct: createHttpUpstream({ url: options.url, transport, log: options.log }),
          sessionTransport: asUser,
        });

  async function forward(exchange: Exchange, res: ResponseWriter): Promise<ForwardResult> {
    let credential: Awaited<ReturnType<CredentialClient['get']>>;
    try {
      credential = await options.credentials.get(exchange.user);
    } catch (err) {
      if (!(err instanceof TesseraError)) throw err;
      options.log('warn', 'no upstream credential', { error: err.message });
      return answerError(res, exchange, err);
    }
    const request = exchange.message?.kind === 'request' ? exchange.message : undefined;
    if (credential.connectUrl) {
      const message = `this server needs you to connect your account first: open ${credential.connectUrl}`;
      if (exchange.era === 'modern' && request)
        return askToConnect(res, exchange, request, credential.connectUrl, message);
      const error = new TesseraError('TESSERA_CONNECT_REQUIRED', message);
      return answerError(res, exchange, error, connectRequiredData(credential.connectUrl, message));
    }
    // A modern retry after the proxy's own round trip goes on without it.
    const retry = exchange.era === 'modern' && request ? withoutConnectRound(request) : undefined;
    return upstream.forward({ ...exchange, ...retry, upstreamHeaders: credential.headers }, res);
  }

  return {
    forward,
    async close() {
      await upstream.close();
      // The HTTP upstream closes the transport it shares; the SSE one was only lent per user.
      if (options.transport === 'sse') await transport.close();
    },
  };
}
