/**
 * The streams the proxy holds open for clients — a legacy session's GET stream, a 2026-07-28
 * `subscriptions/listen` stream — judged again while they last. A stream is authorized when it opens,
 * but it may carry notifications for hours: the policy, the trusted keys or the API keys can change in
 * that time, and the token that opened it expires. So:
 *
 * - on every configuration change, each stream's token is verified again against the new trust, and
 *   the stream's method (and, for a listen stream, each subscribed URI as a `resources/read`) decided
 *   again by the new policy; a stream that would now be refused is closed;
 * - a stream is closed when the token (`exp`) or API key that opened it expires.
 *
 * Closing drops the connection, as a server restart would: a legacy client reconnects its GET stream
 * with `Last-Event-ID`, a modern one listens again, and both meet the current policy when they do.
 * Rate limits and request filters are not applied again: they judge calls, not a stream that stays.
 * What bounds streams is a cap per principal (`maxPerPrincipal`): each one holds a connection, and in
 * the stdio and HTTP+SSE pools a listen stream keeps a warm channel busy, so one user opening streams
 * without end would take what every other user needs.
 *
 * @module
 */
import type { ProxyConfig } from '../ir/proxy-config.ts';
import { authenticate, type Principal } from '../policies/authn.ts';

/** One open stream, as the endpoint registers it. */
export interface OpenStream {
  /** The bearer token or API key that opened it. */
  token: string;
  /** What was decided at the open: `http/get-stream` or `subscriptions/listen`. */
  method: string;
  /** The resource URIs a listen stream subscribed to (each decided as `resources/read`). */
  uris: readonly string[];
  /** Drops the stream; `reason` goes to its audit event. */
  close(reason: string): void;
}

export interface OpenStreams {
  /**
   * Registers a stream opened by `principal`; returns its removal, to call when it ends however it ends,
   * or undefined (and registers nothing) when the principal already holds `maxPerPrincipal` streams.
   */
  add(stream: OpenStream, principal: Principal): (() => void) | undefined;
  /** How many streams `principal` holds now. */
  held(principal: Principal): number;
  /** Judges every open stream under `config`; resolves with how many were closed. */
  revalidate(config: ProxyConfig): Promise<number>;
  /** Streams open now. */
  readonly size: number;
}

export interface OpenStreamsOptions {
  /** Most streams one principal (by subject) may hold at once; default `DEFAULT_MAX_STREAMS_PER_PRINCIPAL`. */
  maxPerPrincipal?: number;
  /** The clock that token expiries are compared with. */
  now?: () => number;
}

export const DEFAULT_MAX_STREAMS_PER_PRINCIPAL = 16;

/** Longest timer Node keeps exact (about 24.8 days); a later expiry is re-armed when this one fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Why `principal` may no longer hold the stream under `config`, or undefined when it still may. Pure.
 */
export function refusal(
  config: ProxyConfig,
  principal: Principal,
  stream: Pick<OpenStream, 'method' | 'uris'>,
): string | undefined {
  const engine = config.policy.engine;
  const opened = engine.decide(principal, stream.method, '', undefined);
  if (opened.effect !== 'ALLOW') return opened.reason;
  for (const uri of stream.uris) {
    const read = engine.decide(principal, 'resources/read', uri, undefined);
    if (read.effect !== 'ALLOW') return `${uri}: ${read.reason}`;
  }
  return undefined;
}

/**
 * @example
 * const streams = createOpenStreams({ maxPerPrincipal: 16 });
 * const remove = streams.add({ token, method: 'http/get-stream', uris: [], close: (why) => res.destroy() }, principal);
 * if (!remove) refuse(); // the principal holds 16 streams already
 * store.onChange((config) => config && void streams.revalidate(config));
 */
export function createOpenStreams(options: OpenStreamsOptions = {}): OpenStreams {
  const now = options.now ?? Date.now;
  const max = options.maxPerPrincipal ?? DEFAULT_MAX_STREAMS_PER_PRINCIPAL;
  const open = new Map<OpenStream, { subject: string; timer: NodeJS.Timeout | undefined }>();
  /** Streams held, by principal subject. */
  const held = new Map<string, number>();

  /** Forgets `stream`; false when it was not registered (any more). */
  const forget = (stream: OpenStream): boolean => {
    const entry = open.get(stream);
    if (!entry) return false;
    clearTimeout(entry.timer);
    open.delete(stream);
    const n = held.get(entry.subject)! - 1;
    if (n === 0) held.delete(entry.subject);
    else held.set(entry.subject, n);
    return true;
  };

  const close = (stream: OpenStream, reason: string) => {
    if (forget(stream)) stream.close(reason);
  };

  const arm = (stream: OpenStream, atMs: number) => {
    const entry = open.get(stream);
    if (!entry) return;
    const wait = atMs - now();
    if (wait <= 0) return close(stream, 'the token that opened the stream has expired');
    entry.timer = setTimeout(() => arm(stream, atMs), Math.min(wait, MAX_TIMER_MS));
    entry.timer.unref();
  };

  return {
    add(stream, principal) {
      const count = held.get(principal.subject) ?? 0;
      if (count >= max) return undefined;
      held.set(principal.subject, count + 1);
      open.set(stream, { subject: principal.subject, timer: undefined });
      const exp = principal.expiresAtMs;
      if (exp !== undefined && Number.isFinite(exp)) arm(stream, exp);
      return () => void forget(stream);
    },
    held: (principal) => held.get(principal.subject) ?? 0,
    async revalidate(config) {
      let closed = 0;
      for (const stream of [...open.keys()]) {
        let reason: string | undefined;
        try {
          const principal = await authenticate(stream.token, config.trust, config.upstream.resourceUri);
          reason = refusal(config, principal, stream);
        } catch (err) {
          reason = (err as Error).message;
        }
        if (reason !== undefined && open.has(stream)) {
          close(stream, `closed on a configuration change: ${reason}`);
          closed++;
        }
      }
      return closed;
    },
    get size() {
      return open.size;
    },
  };
}
