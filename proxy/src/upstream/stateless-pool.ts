/**
 * Serves modern (2026-07-28) stateless requests over message channels (a stdio child, an HTTP+SSE
 * connection). The first channel is probed with `server/discover`: a server that answers it speaks
 * 2026-07-28 itself, and its channels carry requests as they are (ids still made unique per channel).
 * Any other server only speaks the session-bound protocol, and the rest of this comment is about it.
 *
 * The proxy keeps warm channels it initialized itself (a legacy `initialize` without client
 * capabilities) and reuses them across requests, because starting a channel costs a process spawn or a
 * connection plus a handshake on every call otherwise. Channels are kept **per principal**: a session-bound
 * server may keep state per connection (subscriptions, log level, in-memory data), and one user's
 * requests must never see another's. Each principal gets at most `perPrincipal` channels, opened when all
 * of its channels are busy; together with the legacy sessions they share the upstream's channel budget.
 *
 * Translation of one request: its id becomes one unique on the channel and its progress token becomes that
 * id, so concurrent clients cannot collide; the reserved `io.modelcontextprotocol/` `_meta` keys are
 * removed (the server did not negotiate 2026-07-28); the answer gets the client's id back, its token back,
 * and `resultType: "complete"`. `server/discover` is answered by the proxy from the initialize result.
 * `subscriptions/listen` streams are served by the proxy (`listen-streams.ts`): the server's other
 * notifications go to those of the principal that chose them, or are dropped; server requests get an
 * error at once (the session's routing).
 *
 * @module
 */

import { JsonRpcCode, TesseraError } from '../errors.ts';
import type { ResponseWriter } from '../http1/outbound-response.ts';
import type { JsonRpcRequest } from '../server/jsonrpc.ts';
import { claimedRevision, FIRST_MODERN_REVISION, proxyRequestMeta } from '../server/protocol-era.ts';
import { type ChannelSession, progressTokenOf } from './channel-session.ts';
import { createListenStreams } from './listen-streams.ts';
import { unknownResultTypeMessage, unknownResultTypeOf } from './result-type.ts';
import { replyEmpty, replyError, replyJson } from './stdio-reply.ts';
import { acceptsEventStream } from './stdio-sse.ts';
import type { Exchange, ForwardResult } from './upstream.ts';

/** The protocol revision the proxy asks a warm channel's server for. */
export const WARM_PROTOCOL_VERSION = '2025-11-25';

const RESERVED_META = 'io.modelcontextprotocol/';

export interface StatelessPoolOptions {
  /** Most warm channels of one principal. */
  perPrincipal: number;
  /**
   * Opens a new warm channel, or returns undefined when the upstream's channel budget is spent; the
   * server's notifications on it go to `onNotification`.
   */
  openSession: (
    principal: string,
    user: string,
    onNotification: (message: Record<string, unknown>) => void,
  ) => ChannelSession | undefined;
  /** Keep-alive comment interval on listen streams. */
  pingIntervalMs: number;
  /** The proxy's name and version, sent as `clientInfo`. */
  clientInfo: { name: string; version: string };
  /** How long the `server/discover` probe of the first channel waits before falling back (default 3000). */
  probeTimeoutMs?: number;
}

export interface StatelessPool {
  /** Serves one modern POST. Never rejects. */
  forward(exchange: Exchange, res: ResponseWriter): Promise<ForwardResult>;
}

/** How a warm channel was opened: a 2026-07-28 server's discover result, or a legacy one's initialize result. */
interface Opened {
  modern: boolean;
  result: Record<string, unknown>;
}

interface Warm {
  /** Replaced once, when the probe's channel gives way to a legacy one. */
  session: ChannelSession;
  ready: Promise<Opened>;
  busy: number;
  /** Its probe channel is closing to make way for the legacy one: not gone from the pool. */
  replacing: boolean;
}

/**
 * The params of a request as the warm channel's server must see them: reserved `_meta` keys removed and
 * the progress token, if any, replaced by `token`. Pure.
 *
 * @example
 * translateParams({ _meta: { progressToken: 7, 'io.modelcontextprotocol/protocolVersion': '2026-07-28' } }, 't1');
 * // → { _meta: { progressToken: 't1' } }
 */
export function translateParams(
  params: Record<string, unknown> | undefined,
  token: string | undefined,
  keepReserved = false,
): Record<string, unknown> | undefined {
  if (params === undefined) return undefined;
  const meta = params._meta;
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) return params;
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta)) {
    if (key.startsWith(RESERVED_META) && !keepReserved) continue;
    if (key === 'progressToken') {
      if (token !== undefined) kept[key] = token;
      continue;
    }
    kept[key] = value;
  }
  const { _meta: _, ...rest } = params;
  return Object.keys(kept).length > 0 ? { ...rest, _meta: kept } : rest;
}

/**
 * Results that 2026-07-28 makes cacheable: they must say for how long and for whom. The proxy cannot know
 * how long a legacy server's answer stays true, so it says "not at all" and "this caller only".
 */
const CACHEABLE = new Set([
  'tools/list',
  'prompts/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
]);

/**
 * Turns a line the server sent for the request `method` known upstream as `upstreamId` back into the
 * client's terms: the response gets `clientId` (and becomes an error when its `resultType` is one
 * 2026-07-28 does not define); a result gets `resultType: "complete"` unless it says
 * otherwise, and a cacheable one `ttlMs: 0` and `cacheScope: "private"` unless it says otherwise; a
 * progress notification gets the client's `progressToken`. Pure.
 */
export function restoreLine(
  line: string,
  method: string,
  upstreamId: string,
  clientId: string | number,
  progressToken: string | number | undefined,
): string {
  const message = JSON.parse(line) as Record<string, unknown>;
  if (message.id === upstreamId) {
    message.id = clientId;
    const result = message.result;
    const unknown = unknownResultTypeOf(message);
    if (unknown !== undefined) {
      const error = { code: JsonRpcCode.UpstreamFailure, message: unknownResultTypeMessage(unknown) };
      return JSON.stringify({ jsonrpc: '2.0', id: clientId, error });
    }
    if (typeof result === 'object' && result !== null && !Array.isArray(result)) {
      const defaults = CACHEABLE.has(method)
        ? { resultType: 'complete', ttlMs: 0, cacheScope: 'private' }
        : { resultType: 'complete' };
      message.result = { ...defaults, ...result };
    }
  } else if (message.method === 'notifications/progress' && progressToken !== undefined) {
    message.params = { ...(message.params as Record<string, unknown>), progressToken };
  }
  return JSON.stringify(message);
}

/** The revisions the pool speaks to its clients. */
const SUPPORTED_VERSIONS = [FIRST_MODERN_REVISION];

/**
 * Methods a 2026-07-28 server does not have: the handshake, `ping`, `logging/setLevel` and resource
 * subscriptions were removed. They answer 404 with -32601, as an unknown method does.
 */
const NOT_SERVED = new Set([
  'initialize',
  'ping',
  'logging/setLevel',
  'resources/subscribe',
  'resources/unsubscribe',
]);

/** The `server/discover` result the proxy answers for a warm channel's server. */
export function discoverResult(initialize: Record<string, unknown>): Record<string, unknown> {
  const capabilities = initialize.capabilities;
  const result: Record<string, unknown> = {
    resultType: 'complete',
    supportedVersions: SUPPORTED_VERSIONS,
    // All of them, resource subscriptions included: the listen streams serve them (`listen-streams.ts`).
    capabilities: typeof capabilities === 'object' && capabilities !== null ? capabilities : {},
    ttlMs: 0,
    cacheScope: 'private',
  };
  if (initialize.serverInfo !== undefined) {
    result._meta = { 'io.modelcontextprotocol/serverInfo': initialize.serverInfo };
  }
  if (typeof initialize.instructions === 'string') result.instructions = initialize.instructions;
  return result;
}

/**
 * The HTTP status of a JSON answer with this JSON-RPC error code, as a 2026-07-28 server gives it:
 * 404 for an unknown method, 400 for the protocol's request errors, 200 otherwise.
 */
function httpStatusOf(errorCode: number): number {
  if (errorCode === JsonRpcCode.MethodNotFound) return 404;
  if (
    errorCode === JsonRpcCode.UnsupportedProtocolVersion ||
    errorCode === JsonRpcCode.HeaderMismatch ||
    errorCode === JsonRpcCode.MissingRequiredClientCapability
  )
    return 400;
  return 200;
}

/** The revision a modern request names: in `_meta`, else in its `MCP-Protocol-Version` header. */
function requestedVersion(message: JsonRpcRequest, header: unknown): string {
  const v = claimedRevision(message) ?? header;
  return typeof v === 'string' ? v : '';
}

export function createStatelessPool(options: StatelessPoolOptions): StatelessPool {
  const warm = new Map<string, Warm[]>();
  /** The user name of each principal with warm channels, for what names who opened them (spawn audit). */
  const users = new Map<string, string>();
  let seq = 0;

  const streams = createListenStreams({
    pingIntervalMs: options.pingIntervalMs,
    carrier: (principal) => carrierFor(principal),
  });

  const remove = (principal: string, entry: Warm) => {
    const list = (warm.get(principal) ?? []).filter((w) => w !== entry);
    if (list.length > 0) warm.set(principal, list);
    else {
      warm.delete(principal);
      users.delete(principal);
    }
  };
  const openFor = (principal: string) =>
    options.openSession(principal, users.get(principal) ?? principal, (message) =>
      streams.notify(principal, message),
    );

  /**
   * What the server speaks, learnt from the first channel: `server/discover` first (2026-07-28 §stdio
   * backward compatibility), and `initialize` on a fresh channel after any other answer, an error or
   * silence, because some legacy servers exit on a request before `initialize`. Only a legacy handshake
   * that succeeds settles `legacy`, so a modern server that failed once is probed again.
   */
  let serverEra: 'unknown' | 'modern' | 'legacy' = 'unknown';
  const probeTimeoutMs = options.probeTimeoutMs ?? 3_000;
  const probeParams = { _meta: proxyRequestMeta(options.clientInfo) };
  const initialize = (session: ChannelSession): Promise<Opened> =>
    session
      .handshake({ protocolVersion: WARM_PROTOCOL_VERSION, capabilities: {}, clientInfo: options.clientInfo })
      .then((result) => {
        serverEra = 'legacy';
        return { modern: false, result };
      });
  const probe = async (session: ChannelSession): Promise<Opened> => {
    const result = await session.discover(probeParams, probeTimeoutMs);
    const versions = result.supportedVersions;
    if (!Array.isArray(versions) || !versions.includes(FIRST_MODERN_REVISION)) {
      throw new TesseraError('TESSERA_UPSTREAM_UNAVAILABLE', 'server/discover named no 2026-07-28 support');
    }
    serverEra = 'modern';
    return { modern: true, result };
  };

  /** Opens a warm channel for the principal, or returns undefined when the budget is spent. */
  const open = (principal: string): Warm | undefined => {
    const session = openFor(principal);
    if (!session) return undefined;
    const entry: Warm = {
      session,
      busy: 0,
      replacing: false,
      ready: Promise.resolve({ modern: false, result: {} }),
    };
    const watch = (s: ChannelSession) =>
      void s.exit.then(() => {
        if (entry.session === s && !entry.replacing) remove(principal, entry);
      });
    watch(session);
    entry.ready =
      serverEra === 'legacy'
        ? initialize(session)
        : probe(session).catch(async () => {
            // The probe's channel closes in the background (a graceful close waits for the child), unless
            // the budget has no room for its successor until it has.
            entry.replacing = true;
            let next = openFor(principal);
            const closed = session.close('not a 2026-07-28 server; reopening with initialize');
            if (!next) {
              await closed;
              next = openFor(principal);
            }
            entry.replacing = false;
            if (!next) {
              throw new TesseraError(
                'TESSERA_TOO_MANY_SESSIONS',
                'the MCP server already runs the maximum of sessions',
              );
            }
            entry.session = next;
            watch(next);
            return initialize(next);
          });
    // A failed opening leaves nothing behind: the requests waiting on it get its error, the channel closes.
    entry.ready.catch(() => void entry.session.close('opening failed'));
    // Kept until its channel has ended, so one still closing is not mistaken for a free slot.
    warm.set(principal, [...(warm.get(principal) ?? []), entry]);
    return entry;
  };

  /** The least busy live channel of the principal, or a new one when all are busy and the budget allows. */
  const pick = (principal: string): Warm | undefined => {
    const list = (warm.get(principal) ?? []).filter((w) => w.replacing || !w.session.ended);
    const best = list.reduce<Warm | undefined>(
      (a, w) => (a === undefined || w.busy < a.busy ? w : a),
      undefined,
    );
    if (best && (best.busy === 0 || list.length >= options.perPrincipal)) return best;
    return open(principal) ?? best;
  };

  /** A live legacy warm channel of the principal, opened if need be, to carry resource subscriptions. */
  const carrierFor = async (principal: string): Promise<ChannelSession | undefined> => {
    const entry = pick(principal);
    if (!entry) return undefined;
    try {
      const opened = await entry.ready;
      return opened.modern || entry.session.ended ? undefined : entry.session;
    } catch {
      return undefined;
    }
  };

  const serve = async (
    exchange: Exchange,
    res: ResponseWriter,
    message: JsonRpcRequest,
    resent = false,
  ): Promise<ForwardResult> => {
    const entry = pick(exchange.principal);
    if (!entry) {
      const text = 'the MCP server already runs the maximum of sessions';
      return replyError(res, 'TESSERA_TOO_MANY_SESSIONS', message.id, text, undefined);
    }
    entry.busy++;
    try {
      let opened: Opened;
      try {
        opened = await entry.ready;
      } catch (err) {
        const e =
          err instanceof TesseraError ? err : new TesseraError('TESSERA_UPSTREAM_UNAVAILABLE', String(err));
        return replyError(res, e.code, message.id, e.message, undefined);
      }
      const supported = opened.modern
        ? (opened.result.supportedVersions as unknown[]).filter((v): v is string => typeof v === 'string')
        : SUPPORTED_VERSIONS;
      const requested = requestedVersion(message, exchange.headers['mcp-protocol-version']);
      if (!supported.includes(requested)) {
        const text = `protocol version ${JSON.stringify(requested)} is not supported`;
        const data = { supported, requested };
        return replyError(res, 'TESSERA_UNSUPPORTED_PROTOCOL_VERSION', message.id, text, undefined, data);
      }
      if (!opened.modern && message.method === 'subscriptions/listen') {
        return streams.listen(exchange, res, message, opened.result.capabilities, entry.session);
      }
      // A 2026-07-28 server answers for itself, except for a listen stream, which a shared channel cannot carry.
      if (opened.modern ? message.method === 'subscriptions/listen' : NOT_SERVED.has(message.method)) {
        const text = `method ${message.method} does not exist in ${FIRST_MODERN_REVISION}`;
        return replyError(res, 'TESSERA_METHOD_NOT_FOUND', message.id, text, undefined);
      }
      if (!opened.modern && message.method === 'server/discover') {
        const body = JSON.stringify({
          jsonrpc: '2.0',
          id: message.id,
          result: discoverResult(opened.result),
        });
        return {
          status: 200,
          errorCode: 0,
          responseBytes: replyJson(res, 200, body),
          sessionId: undefined,
          reason: '',
        };
      }
      const upstreamId = `tessera-${++seq}`;
      const token = acceptsEventStream(exchange.headers.accept) ? progressTokenOf(message.params) : undefined;
      const params = translateParams(
        message.params,
        token === undefined ? undefined : upstreamId,
        opened.modern,
      );
      const translated: JsonRpcRequest = { kind: 'request', id: upstreamId, method: message.method, params };
      const value = { jsonrpc: '2.0', id: upstreamId, method: message.method, ...(params ? { params } : {}) };
      const result = await entry.session.request(exchange, res, value, translated, false, {
        id: message.id,
        restore: (line) => restoreLine(line, message.method, upstreamId, message.id, token),
        status: httpStatusOf,
        // Once: a request the server never received (it forgot the session) goes to a fresh channel.
        resend: resent ? undefined : () => serve(exchange, res, message, true),
      });
      // The warm channel is the proxy's, not a session of the client's.
      return { ...result, sessionId: undefined };
    } finally {
      entry.busy--;
    }
  };

  return {
    async forward(exchange, res) {
      users.set(exchange.principal, exchange.user);
      const message = exchange.message;
      if (message?.kind === 'request') return serve(exchange, res, message);
      // A stateless notification concerns no request the server could know of (there is no session).
      replyEmpty(res, 202);
      return { status: 202, errorCode: 0, responseBytes: 0, sessionId: undefined, reason: '' };
    },
  };
}
