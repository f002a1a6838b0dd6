/**
 * Counts failed password checks per account and per client IP in fixed windows, so guessing is
 * slow whichever of the two an attacker varies. Accounts are keyed by the email as typed (lowercased),
 * whether or not it exists, so being throttled tells nothing about which accounts exist.
 *
 * Counters live in one replica's memory (`fixed-windows.ts`, bounded by `maxKeys`), so with several
 * replicas each allows its own budget.
 *
 * @module
 */
import { createFixedWindows } from './fixed-windows.ts';

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

export function createLoginThrottle(
  limits: ThrottleLimits = DEFAULT_LIMITS,
  now: () => number = Date.now,
): LoginThrottle {
  const windows = createFixedWindows(limits.windowMs, limits.maxKeys, now);
  const accountKey = (account: string) => `a:${account.trim().toLowerCase()}`;
  const ipKey = (ip: string) => `i:${ip}`;
  return {
    allowed(account, ip) {
      return (
        windows.count(accountKey(account)) < limits.perAccount && windows.count(ipKey(ip)) < limits.perIp
      );
    },
    failed(account, ip) {
      windows.add(accountKey(account));
      windows.add(ipKey(ip));
    },
    succeeded(account) {
      windows.forget(accountKey(account));
    },
  };
}
