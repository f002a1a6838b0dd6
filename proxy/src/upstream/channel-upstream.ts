/**
 * An upstream that reaches its MCP server over message channels (stdio children, HTTP+SSE connections)
 * and offers it to clients over MCP Streamable HTTP, in both wire eras:
 *
 * - legacy (2025-11-25) sessions: every session gets its own channel, because such a server holds
 *   exactly one client's state per connection (capabilities, subscriptions, roots). The session id is
 *   random, is bound to the principal that initialized it, and an id that is unknown, ended or someone
 *   else's gets the same 404;
 * - modern (2026-07-28) stateless requests: served by warm channels the proxy initializes itself
 *   (`stateless-pool.ts`).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { ResponseWriter } from '../http1/outbound-response.ts';
import type { JsonRpcId } from '../server/jsonrpc.ts';
import { LEGACY_REVISIONS } from '../server/protocol-era.ts';
import { type ChannelSession, createChannelSession } from './channel-session.ts';
import type { OpenChannel } from './message-channel.ts';
import { createStatelessPool } from './stateless-pool.ts';
import type { StdioLog } from './stdio-child.ts';
import { clientGone, replyEmpty, replyError, UNKNOWN_SESSION } from './stdio-reply.ts';
import { acceptsEventStream } from './stdio-sse.ts';
import type { Exchange, ForwardResult, Upstream } from './upstream.ts';

export interface ChannelLimits {
  /** Concurrent channels, legacy sessions and warm stateless ones together (one still closing counts). Default 32. */
  maxSessions?: number;
  /** A session with no open exchange for this long is closed. Default 15 minutes. */
  idleTimeoutMs?: number;
  /** A request the server has not answered in this time gets a TESSERA_UPSTREAM_TIMEOUT error. Default 60 s. */
  requestTimeoutMs?: number;
  /** Requests of one session (or one warm channel) waiting for an answer at once. Default 64. */
  maxPendingRequests?: number;
  /** Keep-alive comment interval on SSE streams. Default 15 s. */
  pingIntervalMs?: number;
  /** Warm channels one principal's stateless (2026-07-28) requests may use at once. Default 4. */
  statelessPerPrincipal?: number;
  /** How long the first warm channel's `server/discover` probe waits for an answer. Default 3 s. */
  probeTimeoutMs?: number;
}

export interface ChannelUpstreamOptions extends ChannelLimits {
  /** Opens one channel to the MCP server. */
  open: OpenChannel;
  /** Names the kind in log lines ("stdio", "sse"). */
  kind: string;
  /** What the proxy calls itself in the `initialize` of a warm stateless channel. */
  clientInfo: { name: string; version: string };
  log: StdioLog;
}

/** Validates a limit option: absent → the fallback, otherwise a positive finite number. */
export function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new TypeError(`Invalid "${name}" option: expected a positive number, got ${String(value)}`);
  }
  return value;
}

function requestIdOf(exchange: Exchange): JsonRpcId | undefined {
  return exchange.message?.kind === 'request' ? exchange.message.id : undefined;
}

/**
 * Creates the upstream. No channel opens until a client initializes a session or sends a stateless request.
 *
 * @throws TypeError when a limit is not positive.
 * @example
 * const upstream = createChannelUpstream({ kind: 'stdio', open: stdioChannels({ command, args, log }), log });
 */
export function createChannelUpstream(options: ChannelUpstreamOptions): Upstream {
  const maxSessions = positive('maxSessions', options.maxSessions, 32);
  const idleTimeoutMs = positive('idleTimeoutMs', options.idleTimeoutMs, 15 * 60_000);
  const requestTimeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs, 60_000);
  const maxPending = positive('maxPendingRequests', options.maxPendingRequests, 64);
  const pingIntervalMs = positive('pingIntervalMs', options.pingIntervalMs, 15_000);
  const { log } = options;
  const sessions = new Map<string, ChannelSession>();
  // Sessions whose channel is still open, including ended ones still closing: close() waits for them all.
  const live = new Set<ChannelSession>();
  let closing: Promise<void> | undefined;

  /**
   * Opens a channel and its session, or returns undefined when the budget is spent or the upstream is
   * closing (a warm channel renewing resource subscriptions must not outlive `close`). Counted by open
   * channels, so a client cycling initialize and DELETE cannot outrun shutdowns.
   */
  const openSession = (
    principal: string,
    user: string,
    role: 'session' | 'stateless',
    onNotification?: (message: Record<string, unknown>) => void,
  ): ChannelSession | undefined => {
    if (closing || live.size >= maxSessions) return undefined;
    const id = randomUUID();
    const session = createChannelSession({
      id,
      principal,
      requestTimeoutMs,
      idleTimeoutMs,
      pingIntervalMs,
      maxPending,
      log,
      open: (handlers) => options.open(handlers, { [role]: id, principal, user }),
      onEnd: (ended) => {
        if (sessions.get(ended.id) === ended) sessions.delete(ended.id);
      },
      onNotification,
    });
    live.add(session);
    void session.exit.then(() => live.delete(session));
    return session;
  };
  const stateless = createStatelessPool({
    perPrincipal: positive('statelessPerPrincipal', options.statelessPerPrincipal, 4),
    probeTimeoutMs: positive('probeTimeoutMs', options.probeTimeoutMs, 3_000),
    openSession: (principal, user, onNotification) =>
      openSession(principal, user, 'stateless', onNotification),
    pingIntervalMs,
    clientInfo: options.clientInfo,
  });

  // Unknown, ended, not yet established and someone else's all look the same to the caller.
  const lookup = (exchange: Exchange): ChannelSession | undefined => {
    const session = exchange.sessionId === undefined ? undefined : sessions.get(exchange.sessionId);
    if (!session || session.ended || !session.established || session.principal !== exchange.principal) {
      return undefined;
    }
    return session;
  };
  const notFound = (res: ResponseWriter, exchange: Exchange) =>
    replyError(res, 'TESSERA_SESSION_NOT_FOUND', requestIdOf(exchange), UNKNOWN_SESSION, undefined);
  const sessionRequired = (res: ResponseWriter, exchange: Exchange) =>
    replyError(
      res,
      'TESSERA_SESSION_REQUIRED',
      requestIdOf(exchange),
      'an Mcp-Session-Id header is required; initialize first',
      undefined,
    );

  const post = async (exchange: Exchange, res: ResponseWriter): Promise<ForwardResult> => {
    const message = exchange.message;
    let value: unknown;
    try {
      // Re-serialised from the parsed body rather than passed through: the raw body may span lines, and
      // the server must read exactly what policy judged (JSON.parse keeps the last of duplicate keys).
      value = exchange.body === undefined ? undefined : JSON.parse(exchange.body.toString('utf8'));
    } catch {
      value = undefined;
    }
    if (message === undefined || typeof value !== 'object' || value === null) {
      return replyError(
        res,
        'TESSERA_BAD_REQUEST',
        undefined,
        'a POST must carry one JSON-RPC message',
        exchange.sessionId,
      );
    }
    if (exchange.sessionId === undefined) {
      if (message.kind !== 'request' || message.method !== 'initialize')
        return sessionRequired(res, exchange);
      const session = openSession(exchange.principal, exchange.user, 'session');
      if (!session) {
        const text = `the MCP server already runs the maximum of ${maxSessions} sessions`;
        return replyError(res, 'TESSERA_TOO_MANY_SESSIONS', message.id, text, undefined);
      }
      // Registered before the answer so the slot counts, yet unusable until established.
      sessions.set(session.id, session);
      const result = await session.request(exchange, res, value, message, true);
      if (session.established)
        log('info', 'session established', { session: session.id, principal: session.principal });
      else void session.close('initialize failed');
      return result;
    }
    const session = lookup(exchange);
    if (!session) return notFound(res, exchange);
    if (message.kind === 'request') return session.request(exchange, res, value, message, false);
    return session.deliver(res, value);
  };

  const get = (exchange: Exchange, res: ResponseWriter): Promise<ForwardResult> | ForwardResult => {
    if (!acceptsEventStream(exchange.headers.accept)) {
      const text = 'a GET must accept text/event-stream';
      return replyError(res, 'TESSERA_NOT_ACCEPTABLE', undefined, text, exchange.sessionId);
    }
    if (exchange.sessionId === undefined) return sessionRequired(res, exchange);
    const session = lookup(exchange);
    return session ? session.openStream(exchange, res) : notFound(res, exchange);
  };

  const del = (exchange: Exchange, res: ResponseWriter): ForwardResult => {
    if (exchange.sessionId === undefined) return sessionRequired(res, exchange);
    const session = lookup(exchange);
    if (!session) return notFound(res, exchange);
    // The answer does not wait for the channel: the session is already gone for every caller.
    void session.close('deleted by the client');
    replyEmpty(res, 204);
    return { status: 204, errorCode: 0, responseBytes: 0, sessionId: session.id, reason: '' };
  };

  return {
    async forward(exchange, res) {
      try {
        if (closing) {
          return replyError(
            res,
            'TESSERA_NOT_READY',
            requestIdOf(exchange),
            'the proxy is shutting down',
            exchange.sessionId,
          );
        }
        if (exchange.signal.aborted) return clientGone(exchange.sessionId);
        // The framing check lets only POSTs through in the modern era.
        if (exchange.era === 'modern') return await stateless.forward(exchange, res);
        // The proxy is the session's server here, so it judges the header (2025-11-25 transports
        // §Protocol Version Header: an invalid or unsupported one is 400); a missing one means the
        // negotiated revision.
        const version = exchange.headers['mcp-protocol-version'];
        if (version !== undefined && (typeof version !== 'string' || !LEGACY_REVISIONS.has(version))) {
          const text = `unsupported MCP-Protocol-Version ${JSON.stringify(version)}`;
          return replyError(res, 'TESSERA_BAD_REQUEST', requestIdOf(exchange), text, exchange.sessionId);
        }
        switch (exchange.httpMethod) {
          case 'POST':
            return await post(exchange, res);
          case 'GET':
            return await get(exchange, res);
          case 'DELETE':
            return del(exchange, res);
          default: {
            const text = `HTTP method ${String(exchange.httpMethod)} is not supported on the MCP endpoint`;
            return replyError(res, 'TESSERA_METHOD_NOT_ALLOWED', undefined, text, exchange.sessionId);
          }
        }
      } catch (err) {
        // A bug here must not leave the client hanging nor reject into the server.
        log('error', 'upstream failed to forward an exchange', { kind: options.kind, error: String(err) });
        if (!res.headersSent) {
          return replyError(
            res,
            'TESSERA_UPSTREAM_UNAVAILABLE',
            requestIdOf(exchange),
            'the MCP server could not be reached',
            exchange.sessionId,
          );
        }
        res.destroy();
        return {
          status: res.statusCode,
          errorCode: 0,
          responseBytes: 0,
          sessionId: exchange.sessionId,
          reason: 'internal error',
        };
      }
    },

    close() {
      closing ??= Promise.all([...live].map((s) => s.close('proxy closing'))).then(() => {});
      return closing;
    },
  };
}
