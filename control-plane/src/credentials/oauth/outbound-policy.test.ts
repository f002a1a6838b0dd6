import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createOutboundPolicy, parseCidrList } from './outbound-policy.ts';

describe('outbound policy', () => {
  test('private, loopback, link-local (metadata) and reserved addresses are refused', () => {
    const p = createOutboundPolicy([]);
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.20.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
      '::ffff:169.254.169.254',
      'not-an-address',
    ])
      assert.equal(p.refuses(a), true, a);
    for (const a of ['93.184.215.14', '2606:4700::1111', '::ffff:8.8.8.8'])
      assert.equal(p.refuses(a), false, a);
  });

  test('an allow-listed range is reachable, and only that range', () => {
    const p = createOutboundPolicy(parseCidrList('127.0.0.1/32, 10.9.0.0/16'));
    assert.equal(p.refuses('127.0.0.1'), false);
    assert.equal(p.refuses('::ffff:127.0.0.1'), false);
    assert.equal(p.refuses('127.0.0.2'), true);
    assert.equal(p.refuses('10.9.200.1'), false);
    assert.equal(p.refuses('10.10.0.1'), true);
    assert.equal(p.allows('127.0.0.1'), true);
    assert.equal(p.allows('8.8.8.8'), false);
  });

  test('CIDR lists: bare addresses are one host; junk is refused by name', () => {
    assert.deepEqual(parseCidrList('::1,10.0.0.0/8'), [
      { address: '::1', prefix: 128 },
      { address: '10.0.0.0', prefix: 8 },
    ]);
    assert.deepEqual(parseCidrList(''), []);
    for (const bad of ['localhost', '10.0.0.0/33', '10.0.0.0/8/1', '::1/129', '1.2.3.4/x'])
      assert.throws(() => parseCidrList(bad), new RegExp(`"${bad.replace(/[/.]/g, '\\$&')}"`));
  });
});
