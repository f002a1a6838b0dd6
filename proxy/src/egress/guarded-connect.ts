/**
 * The egress proxy's undici connector: TLS always verified, and the SSRF guard applied to the
 * addresses a socket will actually use.
 *
 * How the check avoids a time-of-check/time-of-use gap: the socket is given our own `lookup`, which
 * resolves the host name, checks every address with the guard and hands exactly those addresses to
 * the socket. No second resolution happens between the check and the connect, so DNS rebinding
 * cannot swap in another address. An IP literal skips `lookup` in `node:net`, so it is checked here
 * before the connector runs. Every connection goes through this connector — the first one, every
 * pooled one, and those to each redirect target — so redirects are checked the same way.
 *
 * A name that resolves to several addresses is refused if any of them is refused: a public name with
 * a private record is what a rebinding attack looks like.
 *
 * @module
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { rootCertificates } from 'node:tls';
import { buildConnector } from 'undici';
import { TesseraError } from '../errors.ts';
import { parseIp } from './ip-address.ts';
import { type AllowList, checkAddress, isListedHost } from './ssrf-guard.ts';

export interface GuardedConnectOptions {
  allow: AllowList;
  /** Extra trusted CA certificates (PEM), added to Node's root store; for private PKIs. */
  ca?: string;
  connectTimeoutMs: number;
  /**
   * Whether plain http is allowed to hosts on the allow-list itself (see `isListedHost`); filter
   * webhooks on a private network may be http, the egress upstream never is.
   */
  httpToListedHosts?: boolean;
  /** Test seam: how host names are resolved (default `dns.lookup`). */
  resolve?: (
    host: string,
    options: LookupAllOptions,
    cb: (err: Error | null, addresses: LookupAddress[]) => void,
  ) => void;
}

function refused(reason: string): TesseraError {
  return new TesseraError('TESSERA_EGRESS_REFUSED', `egress refused: ${reason}`);
}

/** A `lookup` for `net.connect` that returns only addresses the guard allows, or fails. */
export function guardedLookup(
  allow: AllowList,
  resolve: NonNullable<GuardedConnectOptions['resolve']> = dnsLookup,
): LookupFunction {
  return (host, options, callback) => {
    resolve(host, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      for (const a of addresses) {
        const ip = parseIp(a.address);
        const decision = ip
          ? checkAddress(host, ip, allow)
          : { allowed: false as const, reason: `${host} resolved to "${a.address}"` };
        if (!decision.allowed) return callback(refused(decision.reason), '', 0);
      }
      if (addresses.length === 0) return callback(refused(`${host} resolved to no address`), '', 0);
      // `all` is what net asks for when it tries families in turn (autoSelectFamily).
      if ((options as { all?: boolean }).all)
        return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/**
 * Builds the connector for an undici `Agent`.
 *
 * @example
 * new Agent({ connect: createGuardedConnector({ allow, connectTimeoutMs: 10_000 }) });
 */
export function createGuardedConnector(options: GuardedConnectOptions): buildConnector.connector {
  const base = buildConnector({
    timeout: options.connectTimeoutMs,
    // Explicit, so NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment cannot turn verification off.
    rejectUnauthorized: true,
    ...(options.ca ? { ca: [...rootCertificates, options.ca] } : {}),
    lookup: guardedLookup(options.allow, options.resolve),
  } as buildConnector.BuildOptions);
  return (opts, callback) => {
    const plainAllowed =
      opts.protocol === 'http:' && options.httpToListedHosts && isListedHost(opts.hostname, options.allow);
    if (opts.protocol !== 'https:' && !plainAllowed) {
      const why = options.httpToListedHosts
        ? `plain http is allowed only to hosts ${options.allow.setting ?? 'the allow-list'} lists`
        : 'a redirect may not downgrade';
      callback(refused(`${opts.protocol}//${opts.host} is not https (${why})`), null);
      return;
    }
    const literal = parseIp(opts.hostname);
    if (literal) {
      const decision = checkAddress(opts.hostname, literal, options.allow);
      if (!decision.allowed) {
        callback(refused(decision.reason), null);
        return;
      }
    }
    base(opts, callback);
  };
}
