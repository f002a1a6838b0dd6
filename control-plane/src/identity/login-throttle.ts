/**
 * Counts failed password checks per account and per client IP in fixed windows, so guessing is
 * slow whichever of the two an attacker varies. Accounts are keyed by the email as typed (lowercased),
 * whether or not it exists, so being throttled tells nothing about which accounts exist.
 *
 * Memory is bounded: at most `maxKeys` counters; when full, expired ones go first, then the oldest.
 * Counters live in one replica's memory, so with several replicas each allows its own budget.
 *
 * @module
 */

export interface ThrottleLimits {
  /** Failures allowed per account in one window. */
  perAccount: number;
  /** Failures allowed per IP in one window. */
  perIp: number;
  windowMs: number;
  maxKeys: number;
}

export const DEFAULT_LIMITS: ThrottleLimits = {
  perAccount: 5,
  perIp: 30,
  windowMs: 15 * 60 * 1000,
  maxKeys: 10_000,
};

export interface LoginThrottle {
  /** Whether a password check for this account from this IP may run now. */
  allowed(account: string, ip: string): boolean;
  /** Records a failed check. */
  failed(account: string, ip: string): void;
  /** Forgets the account's failures after a successful check (the IP's stay counted). */
  succeeded(account: string): void;
}

interface Counter {
  count: number;
  resetAt: number;
}

export function createLoginThrottle(
  limits: ThrottleLimits = DEFAULT_LIMITS,
  now: () => number = Date.now,
): LoginThrottle {
  const counters = new Map<string, Counter>();
  const accountKey = (account: string) => `a:${account.trim().toLowerCase()}`;
  const ipKey = (ip: string) => `i:${ip}`;

  function current(key: string): number {
    const c = counters.get(key);
    if (!c) return 0;
    if (c.resetAt <= now()) {
      counters.delete(key);
      return 0;
    }
    return c.count;
  }

  function makeRoom() {
    if (counters.size < limits.maxKeys) return;
    const t = now();
    for (const [k, c] of counters) if (c.resetAt <= t) counters.delete(k);
    // Map iteration is insertion order: the first keys are the oldest windows.
    for (const k of counters.keys()) {
      if (counters.size < limits.maxKeys) break;
      counters.delete(k);
    }
  }

  function bump(key: string) {
    const count = current(key);
    if (count === 0) {
      makeRoom();
      counters.set(key, { count: 1, resetAt: now() + limits.windowMs });
    } else counters.get(key)!.count = count + 1;
  }

  return {
    allowed(account, ip) {
      return current(accountKey(account)) < limits.perAccount && current(ipKey(ip)) < limits.perIp;
    },
    failed(account, ip) {
      bump(accountKey(account));
      bump(ipKey(ip));
    },
    succeeded(account) {
      counters.delete(accountKey(account));
    },
  };
}
