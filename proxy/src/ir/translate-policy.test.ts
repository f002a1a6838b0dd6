import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { ServerPolicySchema } from '@tessera/api/mesh/v1/config';
import { badConditions } from '@tessera/api/test/bad-conditions';
import { translatePolicy } from './translate-policy.ts';

type Init = Parameters<typeof create<typeof ServerPolicySchema>>[1];
const policy = (init: Init) => create(ServerPolicySchema, { server: 'files', ...init });
const filter = { name: 'dlp', url: 'http://127.0.0.1:9/hook', phase: 'request', hmacSecret: 's'.repeat(16) };

test('translatePolicy: rules, limits, filters and body capture', () => {
  const ir = translatePolicy(
    policy({
      rules: [{ id: 'ok', effect: 'ALLOW', methods: ['tools/*'], condition: 'claims.x == "y"' }],
      rateLimits: { perUser: { capacity: 10, refillPerSecond: 0.5 } },
      filters: [{ ...filter, methods: ['tools/call'], targets: ['write_*'], mayMutate: true }],
      auditBodies: { enabled: true },
    }),
    'files',
  );
  assert.deepEqual(ir.rateLimits, { perUser: { capacity: 10, refillPerSecond: 0.5 }, perTool: undefined });
  assert.equal(ir.filters[0]!.timeoutMs, 2000);
  assert.equal(ir.filters[0]!.targets.matches('write_file'), true);
  assert.equal(ir.filters[0]!.mayMutate, true);
  assert.deepEqual(ir.auditBodies, { maxBytes: 4096 });
  const caller = { name: 'a', subject: 'a', groups: [], clientId: '', claims: { x: 'y' } };
  assert.equal(ir.engine.decide(caller, 'tools/list', '', undefined).ruleId, 'ok');
});

test('translatePolicy: body capture off unless enabled', () => {
  assert.equal(
    translatePolicy(policy({ auditBodies: { enabled: false, maxBytes: 10 } }), 'files').auditBodies,
    undefined,
  );
  assert.equal(translatePolicy(policy({}), 'files').auditBodies, undefined);
});

test('translatePolicy: every bad input is refused with the field named', () => {
  const bad: Array<[Init, RegExp]> = [
    [
      { rules: [{ id: 'x', effect: 'ALLOW', condition: 'args.a ==' }] },
      /ServerPolicy.rules: rule "x": condition does not parse/,
    ],
    ...badConditions.map(({ condition, error }): [Init, RegExp] => [
      { rules: [{ id: 'cel', effect: 'ALLOW', condition }] },
      new RegExp(`ServerPolicy.rules: rule "cel": condition ${error.source}`),
    ]),
    [{ rules: [{ id: 'x', effect: 'allow' }] }, /rule "x": effect must be "ALLOW" or "DENY"/],
    [{ rateLimits: { perUser: { capacity: 0, refillPerSecond: 1 } } }, /per_user.capacity 0 is outside/],
    [
      { rateLimits: { perTool: { capacity: 5, refillPerSecond: 0 } } },
      /per_tool.refill_per_second 0 must be > 0/,
    ],
    [{ filters: [{ ...filter, name: 'Bad Name' }] }, /name "Bad Name" must be a DNS label/],
    [{ filters: [filter, filter] }, /filters\["dlp"\] is defined twice/],
    [{ filters: [{ ...filter, url: 'ftp://x/' }] }, /url must be http\(s\)/],
    [{ filters: [{ ...filter, url: 'nope' }] }, /url "nope" is not a URL/],
    [{ filters: [{ ...filter, url: 'http://u:p@x/' }] }, /must not carry credentials/],
    [{ filters: [{ ...filter, phase: 'both' }] }, /phase must be "request" or "response"/],
    [{ filters: [{ ...filter, timeoutMs: 60_000 }] }, /timeout_ms 60000 is above 30000/],
    [{ filters: [{ ...filter, hmacSecret: 'short' }] }, /hmac_secret must have at least 16/],
    [{ filters: [{ ...filter, targets: [''] }] }, /filters\["dlp"\]: a glob must not be empty/],
    [{ auditBodies: { enabled: true, maxBytes: 1 << 20 } }, /audit_bodies.max_bytes 1048576 is above 65536/],
    [{ grants: [{ users: [''] }] }, /empty user name/],
  ];
  for (const [init, message] of bad) {
    assert.throws(
      () => translatePolicy(policy(init), 'files'),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'TESSERA_CONFIG_INVALID');
        assert.match(err.message, message);
        return true;
      },
    );
  }
  assert.throws(() => translatePolicy(policy({}), 'other'), /ServerPolicy.server is "files"/);
});
