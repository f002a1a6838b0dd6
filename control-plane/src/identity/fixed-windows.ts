/**
 * Counters in fixed time windows, keyed by string: the bookkeeping under the sign-in and client
 * registration throttles. A key's window opens at its first count and lasts `windowMs`.
 *
 * Memory is bounded: at most `maxKeys` counters; when full, expired ones go first, then the oldest.
 * Counters live in one replica's memory, so with several replicas each keeps its own.
 *
 * @module
 */

export interface FixedWindows {
  /** The key's count in its current window (0 once the window has ended). */
  count(key: string): number;
  /** Counts one more for the key, opening a window if none is open. */
  add(key: string): void;
  /** Forgets the key's count. */
  forget(key: string): void;
  /** Milliseconds until the key's window ends (0 without an open window). */
  endsIn(key: string): number;
}

interface Counter {
  count: number;
  resetAt: number;
}

export function createFixedWindows(
  windowMs: number,
  maxKeys: number,
  now: () => number = Date.now,
): FixedWindows {
  const counters = new Map<string, Counter>();

  function open(key: string): Counter | undefined {
    const c = counters.get(key);
    if (c && c.resetAt <= now()) {
      counters.delete(key);
      return undefined;
    }
    return c;
  }

  function makeRoom(): void {
    if (counters.size < maxKeys) return;
    const t = now();
    for (const [k, c] of counters) if (c.resetAt <= t) counters.delete(k);
    // Map iteration is insertion order: the first keys are the oldest windows.
    for (const k of counters.keys()) {
      if (counters.size < maxKeys) break;
      counters.delete(k);
    }
  }

  return {
    count: (key) => open(key)?.count ?? 0,
    add(key) {
      const c = open(key);
      if (c) c.count++;
      else {
        makeRoom();
        counters.set(key, { count: 1, resetAt: now() + windowMs });
      }
    },
    forget: (key) => counters.delete(key),
    endsIn(key) {
      const c = open(key);
      return c ? c.resetAt - now() : 0;
    },
  };
}
