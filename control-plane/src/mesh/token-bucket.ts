/**
 * A token bucket for admitting new mesh streams: a burst of `burst` at once, `ratePerSecond` after
 * that. A reconnect storm (a replica died, thousands of proxies come back together) is spread out
 * instead of recomputing every snapshot at the same instant.
 *
 * @module
 */
export interface TokenBucket {
  /** Takes a token now if one is available. */
  tryTake(): boolean;
  /** Milliseconds until the next token. */
  msUntilNext(): number;
}

export function createTokenBucket(options: {
  ratePerSecond: number;
  burst: number;
  now?: () => number;
}): TokenBucket {
  const now = options.now ?? (() => performance.now());
  let tokens = options.burst;
  let last = now();
  const refill = () => {
    const t = now();
    tokens = Math.min(options.burst, tokens + ((t - last) / 1000) * options.ratePerSecond);
    last = t;
  };
  return {
    tryTake() {
      refill();
      if (tokens < 1) return false;
      tokens -= 1;
      return true;
    },
    msUntilNext() {
      refill();
      return tokens >= 1 ? 0 : Math.ceil(((1 - tokens) / options.ratePerSecond) * 1000);
    },
  };
}

/** Takes a token, waiting up to `maxWaitMs` for one; false when none came in time. */
export async function takeWithin(
  bucket: TokenBucket,
  maxWaitMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const deadline = performance.now() + maxWaitMs;
  for (;;) {
    if (bucket.tryTake()) return true;
    const wait = bucket.msUntilNext();
    if (signal?.aborted || performance.now() + wait > deadline) return false;
    await new Promise((r) => setTimeout(r, wait));
  }
}
