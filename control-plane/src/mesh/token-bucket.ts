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

/** Admits or refuses a new stream: true when it may proceed. */
export type Admission = (signal?: AbortSignal) => Promise<boolean>;

/**
 * Admission through a bucket in arrival order. A caller that would get its token within `maxWaitMs`
 * waits in a FIFO queue served by one timer; one that would not is refused at once. (Each waiter
 * polling the bucket on its own timer made a reconnect storm of thousands of streams cost more CPU
 * than serving them.)
 */
export function createAdmission(options: {
  bucket: TokenBucket;
  ratePerSecond: number;
  maxWaitMs: number;
}): Admission {
  const { bucket } = options;
  const waiters: Array<{ resolve: (ok: boolean) => void; done: boolean }> = [];
  let timer: NodeJS.Timeout | undefined;

  function drain(): void {
    timer = undefined;
    while (waiters.length > 0) {
      const w = waiters[0]!;
      if (w.done) {
        waiters.shift();
        continue;
      }
      if (!bucket.tryTake()) break;
      waiters.shift();
      w.done = true;
      w.resolve(true);
    }
    if (waiters.length > 0) timer = setTimeout(drain, Math.max(1, bucket.msUntilNext()));
  }

  return (signal) => {
    if (waiters.length === 0 && bucket.tryTake()) return Promise.resolve(true);
    const eta = bucket.msUntilNext() + (waiters.length * 1000) / options.ratePerSecond;
    if (eta > options.maxWaitMs || signal?.aborted) return Promise.resolve(false);
    return new Promise<boolean>((resolve) => {
      const w = { resolve, done: false };
      waiters.push(w);
      signal?.addEventListener(
        'abort',
        () => {
          if (w.done) return;
          w.done = true;
          resolve(false);
        },
        { once: true },
      );
      if (!timer) timer = setTimeout(drain, Math.max(1, bucket.msUntilNext()));
    });
  };
}
