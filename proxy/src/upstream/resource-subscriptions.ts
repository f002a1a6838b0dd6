/**
 * The resource subscriptions of one principal's listen streams, kept on a session-bound (2025-11-25)
 * server, which knows them only as `resources/subscribe` within a session: each URI is subscribed once
 * however many of the principal's streams want it, and unsubscribed when the last of them lets go.
 *
 * They all live on one warm channel of the principal, the carrier. A server sends
 * `notifications/resources/updated` on the session that subscribed, so one channel is enough, and a URI
 * subscribed on several channels would be announced once per channel. The carrier is kept from closing
 * idle while it carries a subscription. When it ends all the same (the child crashed or exited), every
 * subscription is renewed on another warm channel of the principal (opened if need be); those that cannot
 * be (no channel to be had, or the server now refuses) are reported lost, so that their streams end
 * instead of waiting for updates that will not come.
 *
 * Requests go out in the order they were made, each once the carrier is known, so an unsubscribe and a
 * later subscribe of the same URI reach the server in that order. A server that refuses a URI (an error
 * answer), fails or does not answer in time has not subscribed it: the URI is left out of the lease.
 * One that did not answer in time may still subscribe it later, so it is sent `resources/unsubscribe`
 * too, queued before any later subscribe of the URI. A server that handles requests concurrently may
 * still apply the late subscribe after that unsubscribe, so when its acceptance does arrive, and no
 * stream holds or is subscribing the URI by then, it is unsubscribed once more: either way the server
 * is left holding nothing the proxy does not know of. Until that answer comes (or is given up, after
 * five minutes or with its channel), the principal's subscriptions are not forgotten, so that a stream
 * subscribing the URI meanwhile is seen holding it.
 *
 * @module
 */

import { TesseraError } from '../errors.ts';
import type { ChannelSession } from './channel-session.ts';
import type { StdioLog } from './stdio-child.ts';

export interface ResourceSubscriptionsOptions {
  /** A live, established warm channel of the principal to carry the subscriptions, or undefined. */
  carrier(): Promise<ChannelSession | undefined>;
  /** Subscriptions that ended with their carrier and could not be renewed on another channel. */
  onLost(uris: readonly string[]): void;
  /** Nothing is subscribed or on its way any more: the instance may be forgotten. */
  onIdle(): void;
  log?: StdioLog;
}

/** What one listen stream holds. */
export interface Lease {
  /** The URIs the server subscribed, each once, in the order asked. */
  readonly uris: readonly string[];
  /** Lets go of them; the last lease of a URI unsubscribes it. Idempotent. */
  release(): void;
}

export interface ResourceSubscriptions {
  /**
   * Subscribes the URIs, or counts one more holder of those already subscribed; `preferred` carries them
   * when there is no carrier yet (the channel the listen request was served on). Never rejects.
   */
  acquire(uris: readonly string[], preferred?: ChannelSession): Promise<Lease>;
}

interface Held {
  /** Leases holding the URI, and acquisitions waiting for its answer. */
  count: number;
  /** Whether the server accepted it (on the current carrier, or on the one before while it is renewed). */
  subscribed: boolean;
  answer: Promise<boolean>;
}

/**
 * Creates the subscriptions of one principal.
 *
 * @example
 * const subs = createResourceSubscriptions({ carrier: () => warmChannelOf(principal), onLost, onIdle });
 * const lease = await subs.acquire(['file:///a'], session);
 * // … lease.uris are delivered to the stream until it closes:
 * lease.release();
 */
export function createResourceSubscriptions(options: ResourceSubscriptionsOptions): ResourceSubscriptions {
  const log = options.log ?? (() => {});
  const held = new Map<string, Held>();
  let carrier: ChannelSession | undefined;
  let unhold: (() => void) | undefined;
  /** Settles once the last request asked for has been sent (not answered). */
  let queue: Promise<unknown> = Promise.resolve();
  let inflight = 0;
  /**
   * Subscribes that timed out and whose late answer is still awaited: until it comes, this instance
   * stays (a new one would not know the URI had been asked for, and could be undone by it).
   */
  let awaitingLate = 0;

  const drop = () => {
    unhold?.();
    unhold = undefined;
    carrier = undefined;
  };
  const idleCheck = () => {
    if (inflight > 0 || held.size > 0 || awaitingLate > 0) return;
    drop();
    options.onIdle();
  };

  const adopt = (session: ChannelSession) => {
    carrier = session;
    unhold = session.hold();
    void session.exit.then(() => {
      if (carrier !== session) return;
      drop();
      renew();
    });
  };

  /** The carrier, chosen when there is none. */
  const current = async (preferred: ChannelSession | undefined) => {
    // A carrier that is closing is replaced once it has ended (its exit renews what it carried).
    if (carrier?.ended) await carrier.exit;
    if (carrier) return carrier;
    const next = preferred && !preferred.ended ? preferred : await options.carrier();
    if (!next || next.ended) return undefined;
    adopt(next);
    return next;
  };

  /**
   * Sends one request on the channel `choose` settles on, once those before it were sent. Resolves with
   * whether the server accepted it, whether the channel ended under it (then the server never refused
   * it), and whether it went unanswered in time (then the server may still act on it).
   */
  const send = (
    method: string,
    uri: string,
    choose: () => Promise<ChannelSession | undefined>,
    late?: (accepted: boolean, on: ChannelSession) => void,
  ) => {
    inflight++;
    let used: ChannelSession | undefined;
    // Called exactly once after a timeout (channel-session.ts), counted from the timeout on below.
    const onLate = (c: ChannelSession) => (accepted: boolean | undefined) => {
      awaitingLate--;
      if (accepted !== undefined) late!(accepted, c);
      idleCheck();
    };
    // Wrapped so that the queue waits for the sending only, not for the answer.
    const sent = queue.then(choose).then((c) => {
      used = c;
      return { answer: c?.call(method, { uri }, late && onLate(c)) };
    });
    queue = sent.catch(() => {});
    let timedOut = false;
    return sent
      .then(async ({ answer }) => {
        if (!answer) throw new Error('no warm channel to carry it');
        await answer;
        return true;
      })
      .catch((err: unknown) => {
        timedOut = err instanceof TesseraError && err.code === 'TESSERA_UPSTREAM_TIMEOUT';
        if (timedOut && late) awaitingLate++;
        log('info', 'resource subscription request failed', { method, uri, error: String(err) });
        return false;
      })
      .then((accepted) => ({ accepted, channelEnded: !accepted && used?.ended === true, timedOut }))
      .finally(() => {
        inflight--;
        idleCheck();
      });
  };

  /** Subscribes on the carrier; once more on the next one when the carrier ends before it answers. */
  const subscribe = async (uri: string, preferred?: ChannelSession): Promise<boolean> => {
    let outcome = await send('resources/subscribe', uri, () => current(preferred), undoLate(uri));
    if (!outcome.accepted && outcome.channelEnded) {
      outcome = await send('resources/subscribe', uri, () => current(undefined), undoLate(uri));
    }
    // Queued now, so before any later subscribe of the URI (the caller forgets it only after this).
    if (outcome.timedOut) unsubscribe(uri);
    return outcome.accepted;
  };

  /** Unsubscribes on the carrier, if it still lives: one that ended took its subscriptions with it. */
  const unsubscribe = (uri: string) =>
    void send('resources/unsubscribe', uri, async () => (carrier?.ended ? undefined : carrier));

  /**
   * For a subscribe that timed out: when the server accepts it after all, on a channel that still
   * lives, and no stream holds or is subscribing the URI now, it is unsubscribed there once more.
   */
  const undoLate = (uri: string) => (accepted: boolean, on: ChannelSession) => {
    if (!accepted || held.has(uri) || on.ended) return;
    log('info', 'a resource subscription the server accepted after its timeout is undone', { uri });
    void send('resources/unsubscribe', uri, async () => (on.ended ? undefined : on));
  };

  /**
   * Subscribes again, on a new carrier, what the one that ended carried. A stream that asks for one of
   * these URIs meanwhile waits for the renewal's answer.
   */
  const renew = () => {
    const renewed = [...held].filter(([, h]) => h.subscribed);
    if (renewed.length === 0) return;
    const lost: string[] = [];
    const answers = renewed.map(([uri, h]) => {
      h.answer = subscribe(uri).then((ok) => {
        h.subscribed = ok;
        if (!ok && held.get(uri) === h) {
          held.delete(uri);
          lost.push(uri);
        }
        return ok;
      });
      return h.answer;
    });
    void Promise.all(answers).then(() => {
      if (lost.length > 0) options.onLost(lost);
      idleCheck();
    });
  };

  const letGo = (uri: string, h: Held) => {
    // A URI lost with its carrier, or subscribed anew since, is no longer this lease's to let go.
    if (held.get(uri) !== h || --h.count > 0) return;
    held.delete(uri);
    unsubscribe(uri);
  };

  return {
    async acquire(uris, preferred) {
      const mine = new Map<string, Held>();
      for (const uri of uris) {
        if (mine.has(uri)) continue;
        let h = held.get(uri);
        if (!h) {
          const fresh: Held = { count: 0, subscribed: false, answer: Promise.resolve(false) };
          fresh.answer = subscribe(uri, preferred).then((ok) => {
            fresh.subscribed = ok;
            if (!ok && held.get(uri) === fresh) {
              held.delete(uri);
              idleCheck();
            }
            return ok;
          });
          held.set(uri, fresh);
          h = fresh;
        }
        h.count++;
        mine.set(uri, h);
      }
      const answered = await Promise.all([...mine].map(async ([uri, h]) => ({ uri, h, ok: await h.answer })));
      const kept = answered.filter((a) => a.ok);
      let released = false;
      return {
        uris: kept.map((a) => a.uri),
        release() {
          if (released) return;
          released = true;
          for (const { uri, h } of kept) letGo(uri, h);
        },
      };
    },
  };
}
