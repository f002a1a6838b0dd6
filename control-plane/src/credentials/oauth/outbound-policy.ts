/**
 * Which addresses the control plane may reach when it fetches URLs that came from outside (an MCP
 * server's metadata, an authorization server's endpoints): public addresses only, unless an
 * operator allow-lists a range (`TESSERA_OUTBOUND_ALLOW`). Pure; `outbound-fetch.ts` applies it
 * to every address a name resolves to, before connecting.
 *
 * @module
 */
import { BlockList, isIP } from 'node:net';

/** Loopback, private, link-local (cloud metadata), shared, multicast and reserved ranges. */
const DENIED: Array<[string, number, 'ipv4' | 'ipv6']> = [
  ['0.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'],
  ['127.0.0.0', 8, 'ipv4'],
  ['169.254.0.0', 16, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.0.0.0', 24, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['198.18.0.0', 15, 'ipv4'],
  ['224.0.0.0', 4, 'ipv4'],
  ['240.0.0.0', 4, 'ipv4'],
  ['::', 128, 'ipv6'],
  ['::1', 128, 'ipv6'],
  ['64:ff9b::', 96, 'ipv6'],
  ['fc00::', 7, 'ipv6'],
  ['fe80::', 10, 'ipv6'],
  ['ff00::', 8, 'ipv6'],
];

const denied = new BlockList();
for (const [net, prefix, family] of DENIED) denied.addSubnet(net, prefix, family);

export interface OutboundPolicy {
  /** True when the control plane must not connect to this IP address. */
  refuses(address: string): boolean;
  /** True when the address is inside an allow-listed range (plain http is accepted there). */
  allows(address: string): boolean;
}

/**
 * Parses a comma-separated CIDR list (`127.0.0.1/32,10.1.0.0/16`; a bare address is one host).
 *
 * @throws TypeError naming the first entry that is not an address or CIDR range.
 */
export function parseCidrList(raw: string): Array<{ address: string; prefix: number }> {
  const out = [];
  for (const entry of raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [address = '', prefixText, extra] = entry.split('/');
    const family = isIP(address);
    const max = family === 6 ? 128 : 32;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (!family || extra !== undefined || !/^\d{1,3}$/.test(prefixText ?? '0') || prefix > max)
      throw new TypeError(`"${entry}" is not an IP address or CIDR range`);
    out.push({ address, prefix });
  }
  return out;
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is judged as the IPv4 address it carries. */
function normalise(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m ? m[1]! : address;
}

export function createOutboundPolicy(allow: Array<{ address: string; prefix: number }>): OutboundPolicy {
  const allowed = new BlockList();
  for (const { address, prefix } of allow)
    allowed.addSubnet(address, prefix, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  const check = (list: BlockList, address: string) => {
    const a = normalise(address);
    const family = isIP(a);
    if (!family) return false;
    return list.check(a, family === 6 ? 'ipv6' : 'ipv4');
  };
  return {
    allows: (address) => check(allowed, address),
    refuses(address) {
      if (!isIP(normalise(address))) return true;
      return !check(allowed, address) && check(denied, address);
    },
  };
}
