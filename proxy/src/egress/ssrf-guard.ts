/**
 * The SSRF guard's decision: may the egress proxy open a connection to this resolved address for this
 * host name? Pure: the connector (`guarded-connect.ts`) resolves the name and asks here for every
 * address before connecting to exactly the addresses that passed.
 *
 * Rules, in order:
 *   1. a cloud metadata address is refused unless the allow-list names that exact address
 *      (a broader block such as 169.254.0.0/16 does not let it through, nor does a host name);
 *   2. an address in an allow-listed CIDR, or resolved from an allow-listed host name, is allowed;
 *   3. an address in any special-purpose range (loopback, private, link-local, CGNAT, unique-local,
 *      multicast, documentation, reserved…) is refused; IPv4 embedded in IPv6 (mapped, NAT64, 6to4,
 *      IPv4-compatible) is judged by the embedded IPv4 address;
 *   4. everything else (globally routable unicast) is allowed.
 *
 * @module
 */
import { type Cidr, formatIp, type IpAddress, inCidr, parseCidr, parseIp } from './ip-address.ts';

/** Why an address is special; `public` is the only class allowed without an allow-list entry. */
export type AddressClass =
  | 'public'
  | 'metadata'
  | 'unspecified'
  | 'loopback'
  | 'private'
  | 'shared'
  | 'link-local'
  | 'unique-local'
  | 'site-local'
  | 'multicast'
  | 'broadcast'
  | 'documentation'
  | 'benchmarking'
  | 'reserved';

/** Instance-metadata endpoints of the large clouds (AWS, GCP, Azure, Alibaba, Oracle, AWS ECS, AWS IPv6). */
const metadataAddresses = [
  '169.254.169.254',
  '169.254.170.2',
  '169.254.169.253',
  '100.100.100.200',
  '192.0.0.192',
  'fd00:ec2::254',
  'fd00:ec2::23',
].map((a) => parseIp(a)!);

const table: Array<[string, AddressClass]> = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'],
  ['192.0.2.0/24', 'documentation'],
  ['192.31.196.0/24', 'reserved'],
  ['192.52.193.0/24', 'reserved'],
  ['192.88.99.0/24', 'reserved'],
  ['192.168.0.0/16', 'private'],
  ['192.175.48.0/24', 'reserved'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['255.255.255.255/32', 'broadcast'],
  ['240.0.0.0/4', 'reserved'],
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['64:ff9b:1::/48', 'private'],
  ['100::/64', 'reserved'],
  ['2001::/32', 'reserved'],
  ['2001:2::/48', 'benchmarking'],
  ['2001:10::/28', 'reserved'],
  ['2001:20::/28', 'reserved'],
  ['2001:db8::/32', 'documentation'],
  ['3fff::/20', 'documentation'],
  ['5f00::/16', 'reserved'],
  ['fc00::/7', 'unique-local'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
];
const ranges = table.map(([cidr, cls]) => [parseCidr(cidr)!, cls] as const);

/** IPv6 blocks that carry an IPv4 address, and where in them it sits (shift of its 32 bits). */
const embedding: Array<[Cidr, bigint]> = [
  [parseCidr('::ffff:0:0/96')!, 0n], // IPv4-mapped
  [parseCidr('64:ff9b::/96')!, 0n], // NAT64 well-known prefix
  [parseCidr('::/96')!, 0n], // IPv4-compatible (deprecated)
  [parseCidr('2002::/16')!, 80n], // 6to4
];

/** The IPv4 address an IPv6 address carries, if it is of a kind that carries one. */
export function embeddedIpv4(ip: IpAddress): IpAddress | undefined {
  if (ip.family !== 6) return undefined;
  // ::/128 and ::1 sit in the IPv4-compatible block but are the IPv6 unspecified and loopback addresses.
  if (ip.value <= 1n) return undefined;
  for (const [block, shift] of embedding) {
    if (inCidr(ip, block)) return { family: 4, value: (ip.value >> shift) & 0xffffffffn };
  }
  return undefined;
}

/**
 * Classifies an address.
 *
 * @example
 * classifyAddress(parseIp('::ffff:10.1.2.3')!); // → 'private'
 * classifyAddress(parseIp('8.8.8.8')!); // → 'public'
 */
export function classifyAddress(ip: IpAddress): AddressClass {
  const v4 = embeddedIpv4(ip);
  const subject = v4 ?? ip;
  if (metadataAddresses.some((m) => m.family === subject.family && m.value === subject.value))
    return 'metadata';
  for (const [block, cls] of ranges) if (inCidr(subject, block)) return cls;
  return 'public';
}

/** Exceptions to the guard: CIDR blocks (or single addresses) and exact host names. */
export interface AllowList {
  cidrs: Cidr[];
  /** Lower-case host names whose resolved addresses are all allowed (never a metadata address). */
  hosts: Set<string>;
  /** The setting the list was read from, named in refusals so an operator knows what to change. */
  setting?: string;
}

const hostName = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Parses allow-list entries: `10.0.0.0/8`, `127.0.0.1`, `fd00::/8`, `mcp.internal.example`.
 *
 * @returns the list and a message for every entry that is none of these.
 */
export function parseAllowList(
  entries: string[],
  setting = 'TESSERA_PROXY_EGRESS_ALLOW',
): { allow: AllowList; problems: string[] } {
  const allow: AllowList = { cidrs: [], hosts: new Set(), setting };
  const problems: string[] = [];
  for (const raw of entries) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    const cidr = parseCidr(entry);
    if (cidr) allow.cidrs.push(cidr);
    else if (!entry.includes('/') && hostName.test(entry)) allow.hosts.add(entry);
    else problems.push(`"${raw.trim()}" is neither a CIDR block, an IP address nor a host name`);
  }
  return { allow, problems };
}

export type GuardDecision = { allowed: true } | { allowed: false; reason: string };

/**
 * Decides whether the egress proxy may connect to `address`, resolved from `host`.
 *
 * @example
 * checkAddress('mcp.example.com', parseIp('10.0.0.5')!, allow);
 * // → { allowed: false, reason: 'mcp.example.com resolved to 10.0.0.5, a private address' }
 */
export function checkAddress(host: string, address: IpAddress, allow: AllowList): GuardDecision {
  const cls = classifyAddress(address);
  if (cls === 'public') return { allowed: true };
  // An allow-list entry for 10.1.2.3 also covers ::ffff:10.1.2.3: the socket reaches the same host.
  const subject = embeddedIpv4(address) ?? address;
  const bits = subject.family === 4 ? 32 : 128;
  const exact = allow.cidrs.some(
    (c) => c.family === subject.family && c.network === subject.value && c.prefix === bits,
  );
  const listed = exact || allow.cidrs.some((c) => inCidr(subject, c)) || allow.hosts.has(host.toLowerCase());
  if (cls === 'metadata' ? exact : listed) return { allowed: true };
  const shown = formatIp(address);
  const what = parseIp(host) ? `${shown} is` : `${host} resolved to ${shown},`;
  return {
    allowed: false,
    reason: `${what} a ${cls} address; the proxy connects only to public addresses unless ${allow.setting ?? 'TESSERA_PROXY_EGRESS_ALLOW'} lists it`,
  };
}

/**
 * Whether a URL's host is itself on the allow-list: a listed host name, or an IP literal inside a
 * listed block. Only such hosts may be called over plain http (filter webhooks), since a name that
 * merely resolves into a listed block could still be answered by anyone on the path.
 *
 * @param hostname as in `URL#hostname` (IPv6 literals in brackets)
 */
export function isListedHost(hostname: string, allow: AllowList): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const ip = parseIp(host);
  if (!ip) return allow.hosts.has(host);
  const subject = embeddedIpv4(ip) ?? ip;
  return allow.cidrs.some((c) => inCidr(subject, c));
}
