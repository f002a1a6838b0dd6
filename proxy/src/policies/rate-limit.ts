/**
 * Token-bucket rate limits keyed by user and by user + tool. Memory is bounded: at most `maxKeys`
 * buckets, the least recently used dropped first (a dropped bucket starts full again, which only
 * ever admits more, never less). Buckets survive configuration updates while their limits stay the
 * same.
 *
 * @module
 */
import type { BucketIR } from '../ir/proxy-config.ts';

export type RateLimitVerdict =
  | { limited: false }
  | { limited: true; retryAfterS: number; scope: 'user' | 'tool' };

export interface RateLimiter {
  /**
   * Takes one token from the user's bucket and, for a tool call, from the user's bucket for that tool.
   * Nothing is taken when either is empty.
   */
  take(
    limits: { perUser: BucketIR | undefined; perTool: BucketIR | undefined },
    user: string,
    tool: string | undefined,
  ): RateLimitVerdict;
  /** Buckets held now. */
  readonly size: number;
}

interface Bucket {
  spec: BucketIR;
  tokens: number;
  lastMs: number;
}

export function createRateLimiter(options: { maxKeys?: number; now?: () => number } = {}): RateLimiter {
  const maxKeys = options.maxKeys ?? 10_000;
  const now = options.now ?? (() => performance.now());
  const buckets = new Map<string, Bucket>();

  function bucketFor(key: string, spec: BucketIR, t: number): Bucket {
    let b = buckets.get(key);
    if (b && (b.spec.capacity !== spec.capacity || b.spec.refillPerSecond !== spec.refillPerSecond))
      b = undefined;
    if (b) {
      b.tokens = Math.min(spec.capacity, b.tokens + ((t - b.lastMs) / 1000) * spec.refillPerSecond);
      b.lastMs = t;
      buckets.delete(key); // re-inserted below: the Map's order is the recency order
    } else {
      b = { spec, tokens: spec.capacity, lastMs: t };
    }
    buckets.set(key, b);
    while (buckets.size > maxKeys) buckets.delete(buckets.keys().next().value!);
    return b;
  }

  const wait = (b: Bucket) => Math.max(1, Math.ceil((1 - b.tokens) / b.spec.refillPerSecond));

  return {
    take(limits, user, tool) {
      const t = now();
      // JSON-encoded keys: no user and tool pair can collide with another.
      const userBucket = limits.perUser
        ? bucketFor(`u${JSON.stringify(user)}`, limits.perUser, t)
        : undefined;
      const toolBucket =
        limits.perTool && tool !== undefined
          ? bucketFor(`t${JSON.stringify([user, tool])}`, limits.perTool, t)
          : undefined;
      if (userBucket && userBucket.tokens < 1)
        return { limited: true, retryAfterS: wait(userBucket), scope: 'user' };
      if (toolBucket && toolBucket.tokens < 1)
        return { limited: true, retryAfterS: wait(toolBucket), scope: 'tool' };
      if (userBucket) userBucket.tokens -= 1;
      if (toolBucket) toolBucket.tokens -= 1;
      return { limited: false };
    },
    get size() {
      return buckets.size;
    },
  };
}
