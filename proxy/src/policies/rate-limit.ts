/**
 * Token-bucket rate limits keyed by user and by user + tool. Memory is bounded: at most `maxKeys`
 * buckets, the least recently used dropped first (a dropped bucket starts full again, which only
 * ever admits more, never less). Buckets survive configuration updates while their limits stay the
 * same.
 *
 * Buckets live in this process. With `replicas` > 1 (`TESSERA_PROXY_REPLICAS`) each proxy keeps its
 * share of every limit — the capacity and the refill rate divided by the replica count, the capacity
 * never below 1 — so that N replicas behind an even load balancer admit about the configured rate in
 * total. It is an approximation: with sticky sessions one user's traffic lands on one replica, which
 * then admits only its share.
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

/** One replica's share of a bucket. */
export function shareOf(spec: BucketIR, replicas: number): BucketIR {
  if (replicas <= 1) return spec;
  return {
    capacity: Math.max(1, Math.floor(spec.capacity / replicas)),
    refillPerSecond: spec.refillPerSecond / replicas,
  };
}

export function createRateLimiter(
  options: { maxKeys?: number; now?: () => number; replicas?: number } = {},
): RateLimiter {
  const maxKeys = options.maxKeys ?? 10_000;
  const replicas = options.replicas ?? 1;
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
        ? bucketFor(`u${JSON.stringify(user)}`, shareOf(limits.perUser, replicas), t)
        : undefined;
      const toolBucket =
        limits.perTool && tool !== undefined
          ? bucketFor(`t${JSON.stringify([user, tool])}`, shareOf(limits.perTool, replicas), t)
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
