/**
 * IP addresses as numbers, for range checks: IPv4 as a 32-bit and IPv6 as a 128-bit bigint. Parsing
 * is strict (what `node:net` accepts as an address, nothing more), so "0x7f.1" or "127.1" — forms
 * some resolvers accept — are not addresses here and never reach a range check as one.
 *
 * @module
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface IpAddress {
  family: 4 | 6;
  value: bigint;
}

/** A CIDR block: the address with its host bits cleared, and the prefix length. */
export interface Cidr {
  family: 4 | 6;
  network: bigint;
  prefix: number;
}

function v4(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6(text: string): bigint {
  let s = text.toLowerCase();
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (dotted) {
    const n = v4(dotted[1]!);
    s = `${s.slice(0, dotted.index)}${(n >> 16n).toString(16)}:${(n & 0xffffn).toString(16)}`;
  }
  const [head, tail] = s.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
}

/**
 * Parses an IPv4 or IPv6 address (brackets and an IPv6 zone are accepted), or returns undefined.
 *
 * @example
 * parseIp('::ffff:127.0.0.1'); // → { family: 6, value: 0xffff7f000001n }
 */
export function parseIp(text: string): IpAddress | undefined {
  const s = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (isIPv4(s)) return { family: 4, value: v4(s) };
  if (isIPv6(s)) return { family: 6, value: v6(s) };
  return undefined;
}

/**
 * Parses `address/prefix` (or a bare address, a block of one).
 *
 * @example
 * parseCidr('10.0.0.0/8'); // → { family: 4, network: 0x0a000000n, prefix: 8 }
 */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const ip = parseIp(slash === -1 ? text : text.slice(0, slash));
  if (!ip) return undefined;
  const bits = ip.family === 4 ? 32 : 128;
  let prefix = bits;
  if (slash !== -1) {
    const raw = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(raw)) return undefined;
    prefix = Number(raw);
    if (prefix > bits) return undefined;
  }
  return { family: ip.family, network: ip.value & mask(bits, prefix), prefix };
}

function mask(bits: number, prefix: number): bigint {
  return ((1n << BigInt(bits)) - 1n) ^ ((1n << BigInt(bits - prefix)) - 1n);
}

/** Whether `ip` lies in `block`. Families never match each other; map IPv4-in-IPv6 first. */
export function inCidr(ip: IpAddress, block: Cidr): boolean {
  if (ip.family !== block.family) return false;
  return (ip.value & mask(ip.family === 4 ? 32 : 128, block.prefix)) === block.network;
}

/** Renders an address back to text (IPv4 dotted, IPv6 compressed the way URLs write it). */
export function formatIp(ip: IpAddress): string {
  if (ip.family === 4) {
    return [24n, 16n, 8n, 0n].map((s) => String((ip.value >> s) & 0xffn)).join('.');
  }
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((ip.value >> s) & 0xffffn).toString(16));
  return new URL(`http://[${groups.join(':')}]`).hostname.slice(1, -1);
}
