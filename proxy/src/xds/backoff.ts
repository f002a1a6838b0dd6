/**
 * Exponential backoff with "equal" jitter (a delay in [cap/2, cap]), so that proxies cut off together
 * do not reconnect together, while each still waits at least half the backoff.
 *
 * @module
 */
export interface Backoff {
  /** The next delay in milliseconds. */
  next(): number;
  reset(): void;
}

export function createBackoff(options: { initialMs: number; maxMs: number; random?: () => number }): Backoff {
  const random = options.random ?? Math.random;
  let attempt = 0;
  return {
    next() {
      const cap = Math.min(options.maxMs, options.initialMs * 2 ** attempt);
      attempt = Math.min(attempt + 1, 30);
      return Math.round(cap / 2 + (random() * cap) / 2);
    },
    reset() {
      attempt = 0;
    },
  };
}
