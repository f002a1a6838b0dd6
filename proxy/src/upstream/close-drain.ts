/**
 * The wait of a channel's graceful close for the messages it already sent out: a notification the
 * client was told was accepted, or the proxy's own cancellation of a request it gave up on, must not be
 * cut off by the close that follows it. The wait is bounded, because a server that does not take them
 * must not hold up a shutdown.
 *
 * @module
 */

/** How long a graceful close waits, by default, for the messages already under way. */
export const CLOSE_DRAIN_MS = 2_000;

/**
 * Resolves once `sent` has settled (whether the server took the messages or not) or `ms` have passed,
 * whichever comes first; its timer does not outlive it.
 *
 * @example
 * await drained(Promise.allSettled(inFlight), closeDrainMs);
 */
export async function drained(sent: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const cut = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([sent.then(noop, noop), cut]);
  } finally {
    clearTimeout(timer);
  }
}

function noop(): void {}
