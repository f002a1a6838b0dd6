/**
 * The `subscriptions/listen` streams (2026-07-28) the stateless pool serves in front of a server that
 * speaks only the session-bound revision. A stream is acknowledged first with what the proxy honours of
 * its filter, then carries the matching notifications from the principal's warm channels, each tagged
 * with the subscription's id (the listen request's):
 * - the list changes the server declared (`capabilities.<kind>.listChanged`), from any warm channel;
 * - `notifications/resources/updated` for the `resourceSubscriptions` the server accepted, when it
 *   declared `capabilities.resources.subscribe` (`resource-subscriptions.ts` keeps them upstream). An
 *   update goes to the streams that subscribed to its URI. A server may announce a sub-resource of the
 *   one subscribed instead (2025-11-25 `ResourceUpdatedNotification`): such an update goes to the streams
 *   that subscribed to a URI it lies under (`isSubResource`). Whether the stream's user may read what an
 *   update names is the endpoint's to judge, as it does for every stream (`mcp-endpoint.ts`).
 *
 * The endpoint has already taken out the URIs policy does not let the caller read. A stream that carries
 * list changes keeps the warm channel it was served on from closing idle, since a server announces its
 * changes only on open sessions. A stream lasts until the client leaves, or until that channel ends, or
 * its resource subscriptions were lost with their channel and could not be renewed: then it ends with
 * the listen request's result, the graceful end the revision defines, so that the client listens again.
 *
 * @module
 */

import type { ResponseWriter } from '../http1/outbound-response.ts';
import type { JsonRpcRequest } from '../server/jsonrpc.ts';
import { updatedUri } from '../server/listen-request.ts';
import type { ChannelSession } from './channel-session.ts';
import {
  createResourceSubscriptions,
  type Lease,
  type ResourceSubscriptions,
} from './resource-subscriptions.ts';
import type { StdioLog } from './stdio-child.ts';
import { replyError } from './stdio-reply.ts';
import { acceptsEventStream, openSseStream } from './stdio-sse.ts';
import type { Exchange, ForwardResult } from './upstream.ts';

const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

/** The list-changed notifications a listen stream can carry, by the filter field that opts in to each. */
const LIST_CHANGED: Record<string, { method: string; capability: string }> = {
  toolsListChanged: { method: 'notifications/tools/list_changed', capability: 'tools' },
  promptsListChanged: { method: 'notifications/prompts/list_changed', capability: 'prompts' },
  resourcesListChanged: { method: 'notifications/resources/list_changed', capability: 'resources' },
};

type Capabilities = Record<string, { listChanged?: unknown; subscribe?: unknown } | undefined>;

function capabilitiesOf(capabilities: unknown): Capabilities {
  return (typeof capabilities === 'object' && capabilities !== null ? capabilities : {}) as Capabilities;
}

/**
 * The list changes of a `subscriptions/listen` filter the pool honours: those the server declared
 * (`capabilities.<kind>.listChanged`). Anything else is left out, as 2026-07-28 says a server leaves out
 * what it does not support; resource subscriptions are `subscribableUris`'. Pure.
 */
export function honouredFilter(
  requested: Record<string, unknown>,
  capabilities: unknown,
): Record<string, true> {
  const caps = capabilitiesOf(capabilities);
  const out: Record<string, true> = {};
  for (const [field, { capability }] of Object.entries(LIST_CHANGED)) {
    if (requested[field] === true && caps[capability]?.listChanged === true) out[field] = true;
  }
  return out;
}

/**
 * The `resourceSubscriptions` of a filter the pool asks the server for: none unless the server declared
 * `capabilities.resources.subscribe`; strings only, each once, in order. Pure.
 *
 * @example
 * subscribableUris({ resourceSubscriptions: ['a', 'b', 'a'] }, { resources: { subscribe: true } }); // ['a', 'b']
 */
export function subscribableUris(requested: Record<string, unknown>, capabilities: unknown): string[] {
  const list = requested.resourceSubscriptions;
  if (capabilitiesOf(capabilities).resources?.subscribe !== true || !Array.isArray(list)) return [];
  return [...new Set(list.filter((uri): uri is string => typeof uri === 'string'))];
}

/**
 * Whether `uri` lies under `parent` in its path: `parent` followed by `/` and more, or `parent` ending
 * in `/` followed by more. A longer name with the same start (`file:///ab` under `file:///a`) does not. Pure.
 *
 * @example
 * isSubResource('file:///logs/app.log', 'file:///logs'); // true
 * isSubResource('file:///logs2', 'file:///logs'); // false
 */
export function isSubResource(uri: string, parent: string): boolean {
  if (uri.length <= parent.length || !uri.startsWith(parent)) return false;
  return parent.endsWith('/') || uri[parent.length] === '/';
}

export interface ListenStreamsOptions {
  /** Keep-alive comment interval. */
  pingIntervalMs: number;
  /** A live, established warm channel of the principal to carry resource subscriptions, or undefined. */
  carrier(principal: string): Promise<ChannelSession | undefined>;
  log?: StdioLog;
}

export interface ListenStreams {
  /** Hands a notification from one of the principal's warm channels to its streams that chose it. */
  notify(principal: string, message: Record<string, unknown>): void;
  /**
   * Serves one `subscriptions/listen` request, to a server whose initialize result declared
   * `capabilities`, on the warm channel `session` (which carries its resource subscriptions when the
   * principal has no carrier yet). Resolves once the stream has ended.
   */
  listen(
    exchange: Exchange,
    res: ResponseWriter,
    message: JsonRpcRequest,
    capabilities: unknown,
    session: ChannelSession,
  ): Promise<ForwardResult> | ForwardResult;
}

interface Listener {
  filter: Record<string, true>;
  /** The resource URIs whose updates the stream carries. */
  uris: ReadonlySet<string>;
  send(message: Record<string, unknown>): void;
  /** Ends the stream with the listen request's result: the subscription ended on the proxy's side. */
  finish(): void;
}

/**
 * Creates the listen streams of one upstream.
 *
 * @example
 * const streams = createListenStreams({ pingIntervalMs: 15_000, carrier: (principal) => warmChannelOf(principal) });
 * openSession(principal, (message) => streams.notify(principal, message));
 */
export function createListenStreams(options: ListenStreamsOptions): ListenStreams {
  /** Open streams by principal. */
  const listeners = new Map<string, Set<Listener>>();
  const subscriptions = new Map<string, ResourceSubscriptions>();

  const subscriptionsOf = (principal: string): ResourceSubscriptions => {
    const known = subscriptions.get(principal);
    if (known) return known;
    const created = createResourceSubscriptions({
      carrier: () => options.carrier(principal),
      onLost: (uris) => {
        for (const listener of [...(listeners.get(principal) ?? [])]) {
          if (uris.some((uri) => listener.uris.has(uri))) listener.finish();
        }
      },
      onIdle: () => {
        if (subscriptions.get(principal) === created) subscriptions.delete(principal);
      },
      log: options.log,
    });
    subscriptions.set(principal, created);
    return created;
  };

  /** Whether an update of `uri` belongs on the stream: its own URI, or a sub-resource of one. */
  const carries = (listener: Listener, uri: string): boolean =>
    listener.uris.has(uri) || [...listener.uris].some((parent) => isSubResource(uri, parent));

  const notify = (principal: string, message: Record<string, unknown>) => {
    const streams = listeners.get(principal);
    if (!streams) return;
    const uri = updatedUri(message);
    if (uri !== undefined) {
      for (const listener of streams) if (carries(listener, uri)) listener.send(message);
      return;
    }
    const field = Object.keys(LIST_CHANGED).find((f) => LIST_CHANGED[f]!.method === message.method);
    if (field === undefined) return;
    for (const listener of streams) if (listener.filter[field]) listener.send(message);
  };

  const listen: ListenStreams['listen'] = (exchange, res, message, capabilities, session) => {
    if (!acceptsEventStream(exchange.headers.accept)) {
      const text = 'subscriptions/listen answers with an event stream: Accept must allow text/event-stream';
      return replyError(res, 'TESSERA_NOT_ACCEPTABLE', message.id, text, undefined);
    }
    const requested = message.params?.notifications;
    if (typeof requested !== 'object' || requested === null || Array.isArray(requested)) {
      const text = 'subscriptions/listen needs params.notifications, an object';
      return replyError(res, 'TESSERA_INVALID_PARAMS', message.id, text, undefined);
    }
    const filter = honouredFilter(requested as Record<string, unknown>, capabilities);
    const uris = subscribableUris(requested as Record<string, unknown>, capabilities);
    const id = message.id;
    /** A notification as this stream carries it: tagged with the subscription's id. */
    const tag = (m: Record<string, unknown>): string => {
      const params = m.params as Record<string, unknown> | undefined;
      const meta = { ...(params?._meta as Record<string, unknown> | undefined), [SUBSCRIPTION_ID]: id };
      return JSON.stringify({ ...m, params: { ...params, _meta: meta } });
    };
    return new Promise((resolve) => {
      const principal = exchange.principal;
      let lease: Lease | undefined;
      /** Lets the channel the stream was served on close idle again. */
      let unhold: (() => void) | undefined;
      // What arrives while the resource subscriptions are being made waits for the acknowledgement, which
      // must come first; an update can follow the server's answer to its subscribe at once.
      let early: Record<string, unknown>[] | undefined = [];
      let finishing = false;
      const listener: Listener = {
        filter,
        uris: new Set(uris),
        send: (m) => {
          if (early) early.push(m);
          else stream.send(tag(m));
        },
        finish: () => {
          // Not before the acknowledgement, which must be the stream's first message.
          finishing = true;
          if (early) return;
          const result = { resultType: 'complete', _meta: { [SUBSCRIPTION_ID]: id } };
          stream.send(JSON.stringify({ jsonrpc: '2.0', id, result }));
          stream.end();
        },
      };
      const stream = openSseStream({
        res,
        pingIntervalMs: options.pingIntervalMs,
        onClose: () => {
          const streams = listeners.get(principal);
          streams?.delete(listener);
          if (streams?.size === 0) listeners.delete(principal);
          lease?.release();
          unhold?.();
          resolve({
            status: 200,
            errorCode: 0,
            responseBytes: stream.bytes,
            sessionId: undefined,
            reason: '',
          });
        },
      });
      listeners.set(principal, (listeners.get(principal) ?? new Set()).add(listener));
      if (Object.keys(filter).length > 0) {
        unhold = session.hold();
        void session.exit.then(() => listener.finish());
      }
      void (async () => {
        if (uris.length > 0) {
          const acquired = await subscriptionsOf(principal).acquire(uris, session);
          if (stream.closed) return acquired.release();
          lease = acquired;
          listener.uris = new Set(acquired.uris);
        }
        const notifications =
          lease && lease.uris.length > 0 ? { ...filter, resourceSubscriptions: lease.uris } : filter;
        stream.send(
          JSON.stringify({
            jsonrpc: '2.0',
            method: 'notifications/subscriptions/acknowledged',
            params: { notifications, _meta: { [SUBSCRIPTION_ID]: id } },
          }),
        );
        const waiting = early ?? [];
        early = undefined;
        for (const m of waiting) {
          const uri = updatedUri(m);
          if (uri === undefined || carries(listener, uri)) listener.send(m);
        }
        if (finishing) listener.finish();
      })();
    });
  };

  return { notify, listen };
}
