/**
 * The `resourceSubscriptions` of a `subscriptions/listen` request (2026-07-28 `SubscriptionFilter`), as
 * the endpoint judges them before anything goes upstream: the bounds a client is held to, and the
 * request without the URIs the policy takes out. A subscription delivers
 * `notifications/resources/updated` for its URI, which tells the subscriber that the resource exists and
 * when it changes, so each URI must pass the decision a `resources/read` of it would get.
 *
 * Pure.
 *
 * @module
 */
import { TesseraError } from '../errors.ts';
import type { JsonRpcMessage, JsonRpcRequest } from './jsonrpc.ts';

/** Most URIs one listen request may subscribe to. */
export const MAX_RESOURCE_SUBSCRIPTIONS = 100;
/** Longest URI, in characters, a listen request may subscribe to. */
export const MAX_RESOURCE_URI_LENGTH = 2048;

const FIELD = 'params.notifications.resourceSubscriptions';

/** The notification that a subscribed resource (or a sub-resource of it) changed. */
export const RESOURCE_UPDATED = 'notifications/resources/updated';

/** The URI a `notifications/resources/updated` names, if it is one and names one. */
export function updatedUri(message: Record<string, unknown>): string | undefined {
  const uri = (message.params as { uri?: unknown } | undefined)?.uri;
  return message.method === RESOURCE_UPDATED && typeof uri === 'string' ? uri : undefined;
}

/** The filter of a listen request, when it has one that is an object. */
function filterOf(message: JsonRpcMessage | undefined): Record<string, unknown> | undefined {
  if (message?.kind !== 'request' || message.method !== 'subscriptions/listen') return undefined;
  const filter = message.params?.notifications;
  return typeof filter === 'object' && filter !== null && !Array.isArray(filter)
    ? (filter as Record<string, unknown>)
    : undefined;
}

/** The URIs a listen request subscribes to (the strings of its `resourceSubscriptions`), else none. */
export function subscribedUris(message: JsonRpcMessage | undefined): string[] {
  const list = filterOf(message)?.resourceSubscriptions;
  return Array.isArray(list) ? list.filter((uri): uri is string => typeof uri === 'string') : [];
}

/**
 * Refuses a listen request whose `resourceSubscriptions` is present but not an array of at most
 * `MAX_RESOURCE_SUBSCRIPTIONS` non-empty strings of at most `MAX_RESOURCE_URI_LENGTH` characters. Any
 * other message passes.
 *
 * @throws TesseraError `TESSERA_INVALID_PARAMS` (400, -32602) naming the field and what is wrong with it.
 * @example
 * checkResourceSubscriptions(message); // throws for { notifications: { resourceSubscriptions: 'file:///a' } }
 */
export function checkResourceSubscriptions(message: JsonRpcMessage | undefined): void {
  const list = filterOf(message)?.resourceSubscriptions;
  if (list === undefined) return;
  const invalid = (text: string) => new TesseraError('TESSERA_INVALID_PARAMS', `${FIELD}${text}`);
  if (!Array.isArray(list)) throw invalid(' must be an array of resource URIs (strings)');
  if (list.length > MAX_RESOURCE_SUBSCRIPTIONS) {
    throw invalid(` lists ${list.length} URIs; at most ${MAX_RESOURCE_SUBSCRIPTIONS} are allowed`);
  }
  list.forEach((uri: unknown, i) => {
    if (typeof uri !== 'string' || uri === '') throw invalid(`[${i}] must be a non-empty string`);
    if (uri.length > MAX_RESOURCE_URI_LENGTH) {
      throw invalid(
        `[${i}] is ${uri.length} characters long; at most ${MAX_RESOURCE_URI_LENGTH} are allowed`,
      );
    }
  });
}

/** A URI taken out of a listen request, and why. */
export interface DroppedSubscription {
  uri: string;
  reason: string;
}

/**
 * The listen request with only the resource URIs `denied` has no reason against, and the ones taken
 * out; undefined when nothing was. A `resourceSubscriptions` that is not an array (possible only after a
 * request filter's rewrite, since the client's was checked) is taken out whole: nothing is subscribed
 * that policy did not see.
 *
 * @example
 * withoutDenied(listen, (uri) => uri.startsWith('secret:') ? 'denied by rule "no-secrets"' : undefined);
 */
export function withoutDenied(
  message: JsonRpcMessage | undefined,
  denied: (uri: string) => string | undefined,
): { message: JsonRpcRequest; dropped: DroppedSubscription[] } | undefined {
  const filter = filterOf(message);
  const list = filter?.resourceSubscriptions;
  if (!filter || list === undefined) return undefined;
  const request = message as JsonRpcRequest;
  const rebuilt = (notifications: Record<string, unknown>) => ({
    ...request,
    params: { ...request.params, notifications },
  });
  if (!Array.isArray(list)) {
    const { resourceSubscriptions: _, ...rest } = filter;
    return { message: rebuilt(rest), dropped: [{ uri: '', reason: `${FIELD} is not an array` }] };
  }
  const kept: string[] = [];
  const dropped: DroppedSubscription[] = [];
  for (const uri of list) {
    const reason = typeof uri === 'string' ? denied(uri) : `${FIELD} holds a non-string`;
    if (reason === undefined) kept.push(uri as string);
    else dropped.push({ uri: typeof uri === 'string' ? uri : '', reason });
  }
  if (dropped.length === 0) return undefined;
  return { message: rebuilt({ ...filter, resourceSubscriptions: kept }), dropped };
}

/**
 * The audit's sentence for URIs taken out of a listen request: the first ten, each cut to 200
 * characters, with the reason.
 */
export function droppedSentence(dropped: readonly DroppedSubscription[]): string {
  const shown = dropped.slice(0, 10).map(({ uri, reason }) => {
    if (uri === '') return reason;
    const cut = uri.length > 200 ? `${uri.slice(0, 200)}…` : uri;
    return `${JSON.stringify(cut)} (${reason})`;
  });
  const more = dropped.length > 10 ? ` and ${dropped.length - 10} more` : '';
  return `resourceSubscriptions left out by policy: ${shown.join(', ')}${more}`;
}
