/**
 * Limits open dynamic client registration (RFC 7591, `POST /oauth/register`). Registration needs no
 * credentials, as MCP clients expect, and every registration is a row that stays until an
 * administrator removes it: without a limit, anyone who can reach the control plane can fill its
 * database. A client registers once per installation, so the limits are far above what honest clients
 * need: per client address and per replica, in windows of an hour.
 *
 * Behind a load balancer or an ingress every client has the same address, so the per-address limit
 * applies to all of them together; raise it there.
 *
 * @module
 */
import { createFixedWindows } from './fixed-windows.ts';

export interface RegistrationLimits {
  /** Registrations one client address may make per hour. */
  perAddressPerHour: number;
  /** Registrations one replica accepts per hour, from all addresses. */
  perHour: number;
}

export type RegistrationVerdict =
  | { admitted: true }
  | { admitted: false; retryAfterSeconds: number; limit: 'address' | 'replica' };

export interface RegistrationThrottle {
  /** Whether a registration from `address` may go ahead now; an admitted one is counted. */
  admit(address: string): RegistrationVerdict;
}

const HOUR_MS = 60 * 60 * 1000;
/** Addresses tracked at once; beyond it the oldest windows are dropped (see `fixed-windows.ts`). */
const MAX_ADDRESSES = 10_000;

export function createRegistrationThrottle(
  limits: RegistrationLimits,
  now: () => number = Date.now,
): RegistrationThrottle {
  // Apart, so that a flood of addresses cannot push the replica's own count out.
  const replica = createFixedWindows(HOUR_MS, 1, now);
  const addresses = createFixedWindows(HOUR_MS, MAX_ADDRESSES, now);
  const retryAfter = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
  return {
    admit(address) {
      if (replica.count('') >= limits.perHour)
        return { admitted: false, retryAfterSeconds: retryAfter(replica.endsIn('')), limit: 'replica' };
      if (addresses.count(address) >= limits.perAddressPerHour)
        return {
          admitted: false,
          retryAfterSeconds: retryAfter(addresses.endsIn(address)),
          limit: 'address',
        };
      replica.add('');
      addresses.add(address);
      return { admitted: true };
    },
  };
}
