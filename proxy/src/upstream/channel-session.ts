/**
 * One legacy MCP session over a dedicated message channel (a stdio child, an HTTP+SSE connection): the
 * client requests waiting for their answers (matched by JSON-RPC id), and at most one standalone GET
 * stream for what the server sends on its own. One client per channel, so ids need no rewriting.
 *
 * Routing of what the server sends, in order:
 * 1. a response goes to the pending request with its id, or is dropped (the request was cancelled);
 * 2. `notifications/progress` whose token belongs to a pending request that may stream goes to that
 *    request's SSE response;
 * 3. any other notification or server request goes to the GET stream, or is dropped when none is open.
 *
 * When the channel ends, the requests in flight fail with its error, except those it names undelivered
 * (the server never received them) whose caller offered a `resend`: they are handed back to it, once
 * the channel has released its slot, and answered by it.
 *
 * @module
 */

import { TesseraError, type TesseraErrorCode } from '../errors.ts';
import type { ResponseWriter } from '../http1/outbound-response.ts';
import { answeredErrorCode, errorBody, type JsonRpcId, type JsonRpcRequest } from '../server/jsonrpc.ts';
import type { ChannelEnd, ChannelHandlers, MessageChannel } from './message-channel.ts';
import type { StdioLog } from './stdio-child.ts';
import {
  CLIENT_CLOSED_STATUS,
  clientGone,
  replyEmpty,
  replyError,
  replyJson,
  UNKNOWN_SESSION,
} from './stdio-reply.ts';
import { acceptsEventStream, openSseStream, type SseStream } from './stdio-sse.ts';
import type { Exchange, ForwardResult } from './upstream.ts';

export interface ChannelSessionOptions {
  id: string;
  /** The principal that initialized the session; only it may use the session. */
  principal: string;
  requestTimeoutMs: number;
  idleTimeoutMs: number;
  pingIntervalMs: number;
  log: StdioLog;
  /** Opens the session's channel with the session's handlers. */
  open: (handlers: ChannelHandlers) => MessageChannel;
  /** Most requests of the session waiting for an answer at once. */
  maxPending: number;
  /** Called once, when the session stops taking new work: closed, idle, or its channel ended. */
  onEnd: (session: ChannelSession) => void;
  /**
   * Hears the server's notifications (other than progress for a pending request) that no GET stream
   * took: a warm channel's go to the stateless pool's listen streams. Without it they are dropped.
   */
  onNotification?: (message: Record<string, unknown>) => void;
}

/** A session and its channel. */
export interface ChannelSession {
  readonly id: string;
  readonly principal: string;
  /** True once the initialize request got a successful answer. */
  readonly established: boolean;
  /** True once the session takes no new work. */
  readonly ended: boolean;
  /** Resolves once the session's channel has ended; a session may end before that. */
  readonly exit: Promise<void>;
  /** Forwards a client request and answers with the server's response. `initialize` sets the session id. */
  request(
    exchange: Exchange,
    res: ResponseWriter,
    value: unknown,
    message: JsonRpcRequest,
    initialize: boolean,
    outward?: Outward,
  ): Promise<ForwardResult>;
  /**
   * The proxy's own `initialize` and `notifications/initialized`, for a channel no client initializes
   * (warm stateless channels). Resolves with the server's initialize result.
   *
   * @throws TesseraError when the server refuses, fails or does not answer in time.
   */
  handshake(params: Record<string, unknown>): Promise<Record<string, unknown>>;
  /**
   * The 2026-07-28 probe of a fresh channel: `server/discover` with these params. Resolves with its
   * result when the server answers one, which establishes the channel without `initialize`.
   *
   * @throws TesseraError when the server answers an error, fails, or does not answer in `timeoutMs`.
   */
  discover(params: Record<string, unknown>, timeoutMs: number): Promise<Record<string, unknown>>;
  /**
   * The proxy's own request on an established channel (a warm channel's `resources/subscribe`). Resolves
   * with its result. `late`, when given, is called exactly once after the request timed out (and never
   * otherwise), for a caller that must undo what the server did after all: true or false when the answer
   * arrives (a result, an error), undefined when it will not be heard (the channel ended, the answer
   * did not come within `LATE_WATCH_MS`, or `MAX_LATE_WATCHED` later timeouts took its place).
   *
   * @throws TesseraError when the server answers an error, fails, or does not answer within the request timeout.
   */
  call(
    method: string,
    params: Record<string, unknown>,
    late?: (accepted: boolean | undefined) => void,
  ): Promise<Record<string, unknown>>;
  /**
   * Keeps the session from closing idle until the returned function is called: a warm channel that
   * carries resource subscriptions has state the proxy relies on between requests.
   */
  hold(): () => void;
  /**
   * Forwards a client notification or response and answers 202 once the channel has taken it (where
   * the server acknowledges messages, once the server has); otherwise an error.
   */
  deliver(res: ResponseWriter, value: unknown): ForwardResult | Promise<ForwardResult>;
  /** Serves the standalone GET stream until the client leaves or the session ends. */
  openStream(exchange: Exchange, res: ResponseWriter): Promise<ForwardResult>;
  /** Ends the session and closes its channel gracefully; resolves once the channel has ended. */
  close(why: string): Promise<void>;
}

/** How a request whose id (and progress token) the caller rewrote is shown to its client. */
export interface Outward {
  /** The id the client sent. */
  id: JsonRpcId;
  /** Turns a line from the server (the response, a progress notification) back into the client's terms. */
  restore(line: string): string;
  /** The HTTP status of a JSON answer with this JSON-RPC error code (0: none); default 200. */
  status?(errorCode: number): number;
  /**
   * Serves the request again, elsewhere, when the channel ended without the server receiving it; its
   * result is the request's. Without it, such a request fails with the channel's end like the others.
   */
  resend?(): Promise<ForwardResult>;
}

/** The id of the proxy's own initialize request on a warm channel. */
const HANDSHAKE_ID = 'tessera-initialize';
/** The prefix of the ids of the proxy's other own requests; the stateless pool's are `tessera-<n>`. */
const CALL_ID = 'tessera-call-';
/**
 * How many timed-out requests of the proxy's own one channel listens for, and how long: a server that
 * never answers them must hold nothing without bound.
 */
export const MAX_LATE_WATCHED = 256;
export const LATE_WATCH_MS = 5 * 60_000;

interface LateWatch {
  late: (accepted: boolean | undefined) => void;
  timer: NodeJS.Timeout;
}

interface Pending {
  /** Set only when the request may be answered as SSE and carries a progress token. */
  progressToken: string | number | undefined;
  respond(line: string, errorCode: number): void;
  progress(line: string): void;
  fail(code: TesseraErrorCode, message: string): void;
  /** Hands the request back to its caller's `resend` unanswered; false when it cannot be (then fail it). */
  resend?(): boolean;
}

/** The progress token a request's `_meta` carries, if it is a valid one. */
export function progressTokenOf(params: Record<string, unknown> | undefined): string | number | undefined {
  const meta = params?._meta as Record<string, unknown> | undefined;
  const token = typeof meta === 'object' && meta !== null ? meta.progressToken : undefined;
  return typeof token === 'string' || typeof token === 'number' ? token : undefined;
}

function errorCodeOf(message: Record<string, unknown>): number {
  const error = message.error as { code?: unknown } | undefined;
  return typeof error === 'object' && error !== null && typeof error.code === 'number'
    ? answeredErrorCode(error.code)
    : 0;
}

/**
 * Opens a session's channel and returns the session.
 *
 * @example
 * const session = createChannelSession({ id, principal, requestTimeoutMs, idleTimeoutMs, pingIntervalMs, log,
 *   maxPending: 64, open: (handlers) => openChannel(handlers, { session: id }),
 *   onEnd: (s) => sessions.delete(s.id) });
 */
export function createChannelSession(options: ChannelSessionOptions): ChannelSession {
  const { id, log } = options;
  const pending = new Map<JsonRpcId, Pending>();
  /** The proxy's own requests that timed out with a `late` listener, by id: the oldest is dropped first. */
  const lateWatched = new Map<JsonRpcId, LateWatch>();
  /** Ends the watch of `rid`, telling its listener what became of it. */
  const heard = (rid: JsonRpcId, accepted: boolean | undefined) => {
    const watch = lateWatched.get(rid);
    if (!watch) return;
    lateWatched.delete(rid);
    clearTimeout(watch.timer);
    watch.late(accepted);
  };
  let stream: SseStream | undefined;
  let eventSeq = 0;
  let established = false;
  let ended = false;
  let closing = false;
  let active = 0;
  let calls = 0;
  let idleTimer: NodeJS.Timeout | undefined;

  const end = () => {
    if (ended) return;
    ended = true;
    for (const rid of [...lateWatched.keys()]) heard(rid, undefined);
    clearTimeout(idleTimer);
    stream?.end();
    options.onEnd(session);
  };
  // The idle clock runs only while no exchange of the session is open.
  const enter = () => {
    active++;
    clearTimeout(idleTimer);
  };
  const leave = () => {
    active--;
    if (active > 0 || ended) return;
    idleTimer = setTimeout(() => {
      log('info', 'closing idle session', { session: id, idleTimeoutMs: options.idleTimeoutMs });
      void session.close('idle');
    }, options.idleTimeoutMs);
    idleTimer.unref();
  };

  const onMessage = (message: Record<string, unknown>, line: string) => {
    const method = message.method;
    if (typeof method === 'string') {
      if (method === 'notifications/progress') {
        const token = (message.params as Record<string, unknown> | undefined)?.progressToken;
        for (const p of pending.values()) {
          if (token !== undefined && p.progressToken === token) return p.progress(line);
        }
      }
      if (stream?.send(line)) return;
      if (!('id' in message) && options.onNotification) return options.onNotification(message);
      log('debug', 'no GET stream open for a server-initiated message; dropped', { session: id, method });
      // A server request nobody can answer would wait forever: it gets an error at once.
      if ('id' in message) {
        const text = 'the client has no open stream to receive server requests';
        channel.send({ jsonrpc: '2.0', id: message.id, error: { code: -32601, message: text } });
      }
      return;
    }
    if ('id' in message && ('result' in message || 'error' in message)) {
      const p = pending.get(message.id as JsonRpcId);
      if (p) return p.respond(line, errorCodeOf(message));
      if (lateWatched.has(message.id as JsonRpcId)) {
        const result = (message as { result?: unknown }).result;
        return heard(message.id as JsonRpcId, typeof result === 'object' && result !== null);
      }
      log('debug', 'response matches no pending request; dropped', { session: id, id: message.id });
      return;
    }
    log('warn', 'MCP server wrote an object that is not a JSON-RPC message; dropped', { session: id });
  };

  const onEnd = (failure: ChannelEnd) => {
    const undelivered = new Set(failure.undelivered);
    for (const [rid, p] of [...pending]) {
      if (undelivered.has(rid) && p.resend?.()) continue;
      p.fail(failure.code, failure.message);
    }
    end();
  };

  const onFailed = (rid: JsonRpcId, failure: Omit<ChannelEnd, 'undelivered'>) =>
    pending.get(rid)?.fail(failure.code, failure.message);

  const channel = options.open({ onMessage, onEnd, onFailed });

  /**
   * The proxy's own request: the first one on a fresh channel (`HANDSHAKE_ID`), whose result establishes
   * the channel, or a later one with an id of its own.
   */
  function own(
    method: string,
    params: Record<string, unknown>,
    timeoutMs: number,
    rid: string = HANDSHAKE_ID,
    late?: (accepted: boolean | undefined) => void,
  ): Promise<Record<string, unknown>> {
    if (ended)
      return Promise.reject(new TesseraError('TESSERA_UPSTREAM_UNAVAILABLE', 'the channel has ended'));
    enter();
    return new Promise((resolve, reject) => {
      const settle = () => {
        clearTimeout(timer);
        if (pending.get(rid) === p) pending.delete(rid);
        leave();
      };
      const p: Pending = {
        progressToken: undefined,
        respond(line) {
          settle();
          const answer = JSON.parse(line) as { result?: unknown; error?: { message?: unknown } };
          if (typeof answer.result !== 'object' || answer.result === null) {
            const why = typeof answer.error?.message === 'string' ? answer.error.message : 'no result';
            const text = `the MCP server refused the proxy's ${method}: ${why}`;
            return reject(new TesseraError('TESSERA_UPSTREAM_UNAVAILABLE', text));
          }
          if (rid === HANDSHAKE_ID) established = true;
          resolve(answer.result as Record<string, unknown>);
        },
        progress() {},
        fail(code, text) {
          settle();
          reject(new TesseraError(code, text));
        },
      };
      const timer = setTimeout(() => {
        p.fail('TESSERA_UPSTREAM_TIMEOUT', `the MCP server did not answer ${method} within ${timeoutMs} ms`);
        if (!late) return;
        if (ended) return late(undefined);
        if (lateWatched.size >= MAX_LATE_WATCHED) heard(lateWatched.keys().next().value!, undefined);
        const timer = setTimeout(() => heard(rid, undefined), LATE_WATCH_MS);
        timer.unref();
        lateWatched.set(rid, { late, timer });
      }, timeoutMs);
      pending.set(rid, p);
      if (!channel.send({ jsonrpc: '2.0', id: rid, method, params }))
        p.fail('TESSERA_UPSTREAM_UNAVAILABLE', 'the MCP server no longer accepts input');
    });
  }

  const session: ChannelSession = {
    id,
    principal: options.principal,
    get established() {
      return established;
    },
    get ended() {
      return ended;
    },
    exit: channel.exit,

    request(exchange, res, value, message, initialize, outward) {
      const rid = message.id;
      const clientId = outward?.id ?? rid;
      const restore = outward?.restore ?? ((line: string) => line);
      if (ended)
        return Promise.resolve(
          replyError(res, 'TESSERA_SESSION_NOT_FOUND', clientId, UNKNOWN_SESSION, undefined),
        );
      // The client left while the request waited (for a warm channel to open): sending it now would
      // start work nobody waits for, which no cancellation would ever stop, as the abort has already fired.
      if (exchange.signal.aborted) return Promise.resolve(clientGone(initialize ? undefined : id));
      if (pending.has(rid)) {
        const text = `request id ${JSON.stringify(rid)} is already in flight in this session`;
        return Promise.resolve(replyError(res, 'TESSERA_BAD_REQUEST', clientId, text, id));
      }
      if (pending.size >= options.maxPending) {
        const text = `the session already has ${options.maxPending} requests in flight`;
        return Promise.resolve(replyError(res, 'TESSERA_TOO_MANY_PENDING', clientId, text, id));
      }
      enter();
      return new Promise<ForwardResult>((resolve) => {
        let sse: SseStream | undefined;
        let settled = false;
        const sessionId = () => (initialize && !established ? undefined : id);
        const release = () => {
          settled = true;
          clearTimeout(timer);
          exchange.signal.removeEventListener('abort', onAbort);
          if (pending.get(rid) === p) pending.delete(rid);
          leave();
        };
        const settle = (result: Omit<ForwardResult, 'sessionId'>) => {
          if (settled) return;
          release();
          // Ended only once settled: ending reports the stream's close, which must then find nothing to do.
          sse?.end();
          resolve({ ...result, sessionId: sessionId() });
        };
        const again = outward?.resend;
        // Tells the server to stop working on a request nobody waits for. initialize is never cancelled.
        const cancel = (reason: string) => {
          if (initialize) return;
          const params = { requestId: rid, reason };
          channel.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params });
        };
        const gone = (reason: string) => {
          if (settled) return;
          cancel(reason);
          const status = res.headersSent ? res.statusCode : CLIENT_CLOSED_STATUS;
          settle({ status, errorCode: 0, responseBytes: sse?.bytes ?? 0, reason });
        };
        const onAbort = () => gone('client disconnected');
        const p: Pending = {
          progressToken:
            !initialize && acceptsEventStream(exchange.headers.accept)
              ? progressTokenOf(message.params)
              : undefined,
          respond(raw, rawErrorCode) {
            const line = restore(raw);
            // The restore may have turned the answer into an error (an unknown resultType).
            const errorCode =
              line === raw ? rawErrorCode : errorCodeOf(JSON.parse(line) as Record<string, unknown>);
            if (sse) {
              sse.send(line);
              return settle({ status: 200, errorCode, responseBytes: sse.bytes, reason: '' });
            }
            // A client that left before its initialize answer never learns the id: no session then.
            if (initialize && errorCode === 0 && !res.destroyed) established = true;
            const headers = established && initialize ? { 'mcp-session-id': id } : undefined;
            const status = outward?.status?.(errorCode) ?? 200;
            settle({ status, errorCode, responseBytes: replyJson(res, status, line, headers), reason: '' });
          },
          progress(raw) {
            if (res.destroyed) return gone('client disconnected');
            const line = restore(raw);
            // The response turns into an SSE stream at the first progress notification, so requests without
            // progress keep a plain JSON answer.
            sse ??= openSseStream({
              res,
              pingIntervalMs: options.pingIntervalMs,
              onClose: () => gone('client stopped reading the stream'),
            });
            sse.send(line);
          },
          fail(code, text) {
            if (!sse) {
              const { status, errorCode, responseBytes } = replyError(res, code, clientId, text, undefined);
              return settle({ status, errorCode, responseBytes, reason: text, failure: code });
            }
            const rpcCode = new TesseraError(code, text).rpcCode;
            sse.send(errorBody(clientId, rpcCode, text));
            settle({
              status: 200,
              errorCode: rpcCode,
              responseBytes: sse.bytes,
              reason: text,
              failure: code,
            });
          },
          resend:
            again &&
            (() => {
              // A request whose progress already streamed was received: it may not run twice.
              if (settled || sse) return false;
              release();
              // After the exit, so the budget and the pool no longer count the ended channel.
              resolve(channel.exit.then(() => (exchange.signal.aborted ? clientGone(undefined) : again())));
              return true;
            }),
        };
        const timer = setTimeout(() => {
          cancel('request timed out');
          p.fail(
            'TESSERA_UPSTREAM_TIMEOUT',
            `the MCP server did not answer within ${options.requestTimeoutMs} ms`,
          );
        }, options.requestTimeoutMs);
        pending.set(rid, p);
        exchange.signal.addEventListener('abort', onAbort, { once: true });
        if (!channel.send(value))
          p.fail('TESSERA_UPSTREAM_UNAVAILABLE', 'the MCP server no longer accepts input');
      });
    },

    handshake(params) {
      return own('initialize', params, options.requestTimeoutMs).then((result) => {
        channel.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
        return result;
      });
    },

    discover(params, timeoutMs) {
      return own('server/discover', params, timeoutMs);
    },

    call(method, params, late) {
      return own(method, params, options.requestTimeoutMs, `${CALL_ID}${++calls}`, late);
    },

    hold() {
      enter();
      let held = true;
      return () => {
        if (!held) return;
        held = false;
        leave();
      };
    },

    deliver(res, value) {
      if (ended) return replyError(res, 'TESSERA_SESSION_NOT_FOUND', undefined, UNKNOWN_SESSION, undefined);
      enter();
      const answer = (taken: boolean): ForwardResult => {
        leave();
        if (!taken)
          return replyError(
            res,
            'TESSERA_UPSTREAM_UNAVAILABLE',
            undefined,
            'the MCP server did not take the message',
            id,
          );
        replyEmpty(res, 202);
        return { status: 202, errorCode: 0, responseBytes: 0, sessionId: id, reason: '' };
      };
      // Where the server acknowledges messages, 202 waits for it: the client is told what the server took.
      return channel.deliver ? channel.deliver(value).then(answer) : answer(channel.send(value));
    },

    openStream(exchange, res) {
      if (ended)
        return Promise.resolve(
          replyError(res, 'TESSERA_SESSION_NOT_FOUND', undefined, UNKNOWN_SESSION, undefined),
        );
      if (stream) {
        const text = 'this session already has an open GET stream';
        return Promise.resolve(replyError(res, 'TESSERA_STREAM_CONFLICT', undefined, text, id));
      }
      enter();
      return new Promise<ForwardResult>((resolve) => {
        const onAbort = () => opened.end();
        const opened = openSseStream({
          res,
          pingIntervalMs: options.pingIntervalMs,
          nextEventId: () => String(++eventSeq),
          onClose: () => {
            exchange.signal.removeEventListener('abort', onAbort);
            if (stream === opened) stream = undefined;
            leave();
            resolve({ status: 200, errorCode: 0, responseBytes: opened.bytes, sessionId: id, reason: '' });
          },
        });
        stream = opened;
        exchange.signal.addEventListener('abort', onAbort, { once: true });
      });
    },

    async close(why) {
      if (!closing) log('info', 'closing session', { session: id, why });
      closing = true;
      end();
      await channel.close();
    },
  };
  return session;
}
