import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatIp, parseCidr, parseIp } from './ip-address.ts';
import {
  type AddressClass,
  checkAddress,
  classifyAddress,
  isListedHost,
  parseAllowList,
} from './ssrf-guard.ts';

const cases: Array<[string, AddressClass]> = [
  // IPv4 special-purpose ranges, at their edges.
  ['0.0.0.0', 'unspecified'],
  ['0.255.255.255', 'unspecified'],
  ['10.0.0.0', 'private'],
  ['10.255.255.255', 'private'],
  ['100.63.255.255', 'public'],
  ['100.64.0.0', 'shared'],
  ['100.127.255.255', 'shared'],
  ['100.128.0.0', 'public'],
  ['127.0.0.1', 'loopback'],
  ['127.255.255.254', 'loopback'],
  ['169.254.0.1', 'link-local'],
  ['169.254.169.254', 'metadata'],
  ['169.254.170.2', 'metadata'],
  ['100.100.100.200', 'metadata'],
  ['192.0.0.192', 'metadata'],
  ['172.15.255.255', 'public'],
  ['172.16.0.0', 'private'],
  ['172.31.255.255', 'private'],
  ['172.32.0.0', 'public'],
  ['192.0.0.8', 'reserved'],
  ['192.0.2.1', 'documentation'],
  ['192.88.99.1', 'reserved'],
  ['192.168.1.1', 'private'],
  ['192.169.0.1', 'public'],
  ['198.18.0.1', 'benchmarking'],
  ['198.19.255.255', 'benchmarking'],
  ['198.51.100.7', 'documentation'],
  ['203.0.113.9', 'documentation'],
  ['224.0.0.1', 'multicast'],
  ['239.255.255.255', 'multicast'],
  ['240.0.0.1', 'reserved'],
  ['255.255.255.255', 'broadcast'],
  ['8.8.8.8', 'public'],
  ['1.1.1.1', 'public'],
  ['93.184.216.34', 'public'],
  // IPv6.
  ['::', 'unspecified'],
  ['::1', 'loopback'],
  ['fc00::1', 'unique-local'],
  ['fdff:ffff::1', 'unique-local'],
  ['fd00:ec2::254', 'metadata'],
  ['fe80::1', 'link-local'],
  ['fe80::1%eth0', 'link-local'],
  ['febf::1', 'link-local'],
  ['fec0::1', 'site-local'],
  ['ff02::1', 'multicast'],
  ['2001:db8::1', 'documentation'],
  ['3fff::1', 'documentation'],
  ['2001::1', 'reserved'],
  ['100::1', 'reserved'],
  ['64:ff9b:1::1', 'private'],
  ['2606:4700:4700::1111', 'public'],
  ['2a00:1450:4001:80e::200e', 'public'],
  // IPv4 embedded in IPv6 is judged by the IPv4 address.
  ['::ffff:127.0.0.1', 'loopback'],
  ['::ffff:7f00:1', 'loopback'],
  ['::ffff:169.254.169.254', 'metadata'],
  ['::ffff:10.0.0.1', 'private'],
  ['::ffff:8.8.8.8', 'public'],
  ['64:ff9b::10.0.0.1', 'private'],
  ['64:ff9b::8.8.8.8', 'public'],
  ['::127.0.0.1', 'loopback'],
  ['2002:7f00:1::', 'loopback'],
  ['2002:a9fe:a9fe::1', 'metadata'],
  ['2002:808:808::1', 'public'],
  ['[::1]', 'loopback'],
];

for (const [address, expected] of cases) {
  test(`classifies ${address} as ${expected}`, () => {
    const ip = parseIp(address);
    assert.ok(ip, `${address} parses`);
    assert.equal(classifyAddress(ip), expected);
  });
}

test('forms that some resolvers accept are not addresses', () => {
  for (const text of [
    '127.1',
    '0x7f.0.0.1',
    '0177.0.0.1',
    '2130706433',
    '1.2.3.4.5',
    '256.0.0.1',
    'localhost',
    '',
    ':::1',
  ]) {
    assert.equal(parseIp(text), undefined, text);
  }
});

test('CIDR parsing clears host bits and rejects bad prefixes', () => {
  assert.deepEqual(parseCidr('10.1.2.3/8'), { family: 4, network: 0x0a000000n, prefix: 8 });
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('::/129'), undefined);
  assert.equal(parseCidr('10.0.0.0/-1'), undefined);
  assert.equal(parseCidr('10.0.0.0/'), undefined);
  assert.equal(formatIp(parseIp('fd00:ec2:0:0:0:0:0:254')!), 'fd00:ec2::254');
  assert.equal(formatIp(parseIp('10.0.0.1')!), '10.0.0.1');
});

test('the allow-list accepts CIDRs, addresses and host names, and names every bad entry', () => {
  const { allow, problems } = parseAllowList([
    '10.0.0.0/8',
    ' 127.0.0.1 ',
    'MCP.Internal.example',
    '',
    'fd00::/8',
  ]);
  assert.deepEqual(problems, []);
  assert.equal(allow.cidrs.length, 3);
  assert.deepEqual([...allow.hosts], ['mcp.internal.example']);
  const bad = parseAllowList(['10.0.0.0/40', 'http://x', 'a_b', '*.example.com']).problems;
  assert.equal(bad.length, 4);
  assert.match(bad[0]!, /"10\.0\.0\.0\/40" is neither/);
});

test('public addresses pass, special ones are refused with the host, address and class', () => {
  const { allow } = parseAllowList([]);
  assert.deepEqual(checkAddress('mcp.example.com', parseIp('93.184.216.34')!, allow), { allowed: true });
  const d = checkAddress('mcp.example.com', parseIp('10.0.0.5')!, allow);
  assert.equal(d.allowed, false);
  assert.match(!d.allowed ? d.reason : '', /^mcp\.example\.com resolved to 10\.0\.0\.5, a private address/);
  const literal = checkAddress('127.0.0.1', parseIp('127.0.0.1')!, allow);
  assert.match(!literal.allowed ? literal.reason : '', /^127\.0\.0\.1 is a loopback address/);
});

test('allow-listed blocks, addresses and hosts pass; mapped forms are covered by the IPv4 entry', () => {
  const { allow } = parseAllowList(['127.0.0.1', '10.0.0.0/8', 'internal.example']);
  assert.equal(checkAddress('x', parseIp('127.0.0.1')!, allow).allowed, true);
  assert.equal(checkAddress('x', parseIp('::ffff:127.0.0.1')!, allow).allowed, true);
  assert.equal(checkAddress('x', parseIp('127.0.0.2')!, allow).allowed, false);
  assert.equal(checkAddress('x', parseIp('10.9.9.9')!, allow).allowed, true);
  assert.equal(checkAddress('x', parseIp('192.168.0.1')!, allow).allowed, false);
  assert.equal(checkAddress('Internal.Example', parseIp('192.168.0.1')!, allow).allowed, true);
  assert.equal(checkAddress('other.example', parseIp('192.168.0.1')!, allow).allowed, false);
});

test('a metadata address passes only when the allow-list names exactly that address', () => {
  const broad = parseAllowList(['169.254.0.0/16', '0.0.0.0/0', 'metadata.google.internal']).allow;
  assert.equal(checkAddress('metadata.google.internal', parseIp('169.254.169.254')!, broad).allowed, false);
  assert.equal(checkAddress('x', parseIp('169.254.1.1')!, broad).allowed, true);
  const exact = parseAllowList(['169.254.169.254']).allow;
  assert.equal(checkAddress('x', parseIp('169.254.169.254')!, exact).allowed, true);
  assert.equal(checkAddress('x', parseIp('::ffff:169.254.169.254')!, exact).allowed, true);
  assert.equal(
    checkAddress('x', parseIp('fd00:ec2::254')!, parseAllowList(['fd00::/8']).allow).allowed,
    false,
  );
});

test('a refusal names the setting the allow-list came from', () => {
  const { allow } = parseAllowList([], 'TESSERA_PROXY_FILTER_ALLOW');
  const d = checkAddress('10.0.0.1', parseIp('10.0.0.1')!, allow);
  assert.match(!d.allowed ? d.reason : '', /unless TESSERA_PROXY_FILTER_ALLOW lists it$/);
});

test('isListedHost: listed names and IP literals inside listed blocks only', () => {
  const { allow } = parseAllowList(['127.0.0.1', '10.0.0.0/8', '::1', 'dlp.internal']);
  assert.equal(isListedHost('127.0.0.1', allow), true);
  assert.equal(isListedHost('10.2.3.4', allow), true);
  assert.equal(isListedHost('[::1]', allow), true);
  assert.equal(isListedHost('[::ffff:127.0.0.1]', allow), true);
  assert.equal(isListedHost('DLP.internal', allow), true);
  assert.equal(isListedHost('127.0.0.2', allow), false);
  // A name is listed only by name, whatever it resolves to.
  assert.equal(isListedHost('localhost', allow), false);
  assert.equal(isListedHost('other.internal', allow), false);
});
