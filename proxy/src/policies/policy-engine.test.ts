import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Caller, compilePolicy, type PolicySpec, type RuleSpec } from './policy-engine.ts';

const alice: Caller = {
  name: 'alice@example.com',
  subject: 'u-1',
  groups: ['eng'],
  clientId: 'cursor',
  claims: { department: 'research', roles: ['reader', 'writer'], level: 3 },
};
const bob: Caller = { name: 'bob@example.com', subject: 'u-2', groups: [], clientId: '', claims: {} };

function rule(partial: Partial<RuleSpec> & Pick<RuleSpec, 'id' | 'effect'>): RuleSpec {
  return { principals: undefined, methods: [], targets: [], condition: '', ...partial };
}
const everyone = (id: string, extra: Partial<RuleSpec> = {}) => rule({ id, effect: 'ALLOW', ...extra });

interface Case {
  name: string;
  policy: PolicySpec;
  caller?: Caller;
  method?: string;
  target?: string;
  args?: unknown;
  want: 'ALLOW' | 'DENY';
  ruleId: string;
  reason?: RegExp;
}

const cases: Case[] = [
  {
    name: 'empty policy denies by default',
    policy: { grants: [], rules: [] },
    want: 'DENY',
    ruleId: 'default-deny',
    reason: /no rule allows tools\/call "search"/,
  },
  {
    name: 'a grant is an ALLOW rule for everything',
    policy: { grants: [{ users: ['alice@example.com'], groups: [] }], rules: [] },
    want: 'ALLOW',
    ruleId: 'grant:user:alice@example.com',
  },
  {
    name: 'a group grant',
    policy: { grants: [{ users: [], groups: ['eng'] }], rules: [] },
    want: 'ALLOW',
    ruleId: 'grant:group:eng',
  },
  {
    name: 'a grant for someone else does not allow',
    policy: { grants: [{ users: ['carol@example.com'], groups: ['ops'] }], rules: [] },
    want: 'DENY',
    ruleId: 'default-deny',
  },
  {
    name: 'DENY beats ALLOW whatever the order',
    policy: {
      grants: [{ users: ['alice@example.com'], groups: [] }],
      rules: [everyone('all'), rule({ id: 'no-search', effect: 'DENY', targets: ['search'] })],
    },
    want: 'DENY',
    ruleId: 'no-search',
  },
  {
    name: 'a DENY for another target does not apply',
    policy: { grants: [], rules: [rule({ id: 'd', effect: 'DENY', targets: ['delete_*'] }), everyone('a')] },
    want: 'ALLOW',
    ruleId: 'a',
  },
  {
    name: 'method globs',
    policy: { grants: [], rules: [everyone('lists', { methods: ['*/list'] })] },
    method: 'tools/list',
    target: '',
    want: 'ALLOW',
    ruleId: 'lists',
  },
  {
    name: 'method glob does not match another method',
    policy: { grants: [], rules: [everyone('lists', { methods: ['*/list'] })] },
    want: 'DENY',
    ruleId: 'default-deny',
  },
  {
    name: 'target globs with ?',
    policy: { grants: [], rules: [everyone('v', { targets: ['search_v?'] })] },
    target: 'search_v2',
    want: 'ALLOW',
    ruleId: 'v',
  },
  {
    name: 'a rule with targets does not match a request without one',
    policy: { grants: [], rules: [everyone('t', { targets: ['search*'] })] },
    method: 'initialize',
    target: '',
    want: 'DENY',
    ruleId: 'default-deny',
  },
  {
    name: 'principals: groups',
    policy: { grants: [], rules: [rule({ id: 'eng', effect: 'ALLOW', principals: p({ groups: ['eng'] }) })] },
    want: 'ALLOW',
    ruleId: 'eng',
  },
  {
    name: 'principals: groups do not match another caller',
    policy: { grants: [], rules: [rule({ id: 'eng', effect: 'ALLOW', principals: p({ groups: ['eng'] }) })] },
    caller: bob,
    want: 'DENY',
    ruleId: 'default-deny',
  },
  {
    name: 'principals: client id narrows',
    policy: {
      grants: [],
      rules: [rule({ id: 'c', effect: 'ALLOW', principals: p({ groups: ['eng'], clientIds: ['vscode'] }) })],
    },
    want: 'DENY',
    ruleId: 'default-deny',
  },
  {
    name: 'principals: claim matcher on a string claim',
    policy: {
      grants: [],
      rules: [
        rule({
          id: 'r',
          effect: 'ALLOW',
          principals: p({ claims: [{ claim: 'department', values: ['research'] }] }),
        }),
      ],
    },
    want: 'ALLOW',
    ruleId: 'r',
  },
  {
    name: 'principals: claim matcher on an array claim',
    policy: {
      grants: [],
      rules: [
        rule({
          id: 'w',
          effect: 'DENY',
          principals: p({ claims: [{ claim: 'roles', values: ['writer'] }] }),
        }),
        everyone('a'),
      ],
    },
    want: 'DENY',
    ruleId: 'w',
  },
  {
    name: 'principals: a non-string claim never matches',
    policy: {
      grants: [],
      rules: [
        rule({ id: 'l', effect: 'ALLOW', principals: p({ claims: [{ claim: 'level', values: ['3'] }] }) }),
      ],
    },
    want: 'DENY',
    ruleId: 'default-deny',
  },
  {
    name: 'CEL on claims: true',
    policy: {
      grants: [],
      rules: [everyone('c', { condition: 'claims.department == "research" && "eng" in principal.groups' })],
    },
    want: 'ALLOW',
    ruleId: 'c',
  },
  {
    name: 'CEL on claims: false',
    policy: { grants: [], rules: [everyone('c', { condition: 'claims.department == "sales"' })] },
    want: 'DENY',
    ruleId: 'default-deny',
  },
  {
    name: 'CEL on arguments: allowed path',
    policy: { grants: [], rules: [everyone('tmp', { condition: 'args.path.startsWith("/tmp/")' })] },
    args: { path: '/tmp/x' },
    want: 'ALLOW',
    ruleId: 'tmp',
  },
  {
    name: 'CEL on arguments: DENY with a number comparison',
    policy: {
      grants: [{ users: ['alice@example.com'], groups: [] }],
      rules: [rule({ id: 'big', effect: 'DENY', condition: 'args.count > 100' })],
    },
    args: { count: 500 },
    want: 'DENY',
    ruleId: 'big',
  },
  {
    name: 'CEL runtime error (missing field) denies, naming the rule',
    policy: { grants: [], rules: [everyone('tmp', { condition: 'args.path.startsWith("/tmp/")' })] },
    args: {},
    want: 'DENY',
    ruleId: 'tmp',
    reason: /condition of rule "tmp" failed to evaluate .*path/,
  },
  {
    name: 'CEL runtime error (wrong type) in a DENY rule denies even with a grant',
    policy: {
      grants: [{ users: ['alice@example.com'], groups: [] }],
      rules: [rule({ id: 'typed', effect: 'DENY', condition: 'args.path.startsWith("/etc")' })],
    },
    args: { path: 42 },
    want: 'DENY',
    ruleId: 'typed',
    reason: /failed to evaluate/,
  },
  {
    // Parsed from 9007199254740993, which a server reading 64-bit integers keeps exact.
    name: 'an integer beyond 2^53 in the arguments fails a condition that reads args, so a DENY rule denies',
    policy: {
      grants: [{ users: ['alice@example.com'], groups: [] }],
      rules: [rule({ id: 'acct', effect: 'DENY', condition: 'args.account == 9007199254740993' })],
    },
    args: JSON.parse('{"note":"x","items":[1,{"account":9007199254740993}]}'),
    want: 'DENY',
    ruleId: 'acct',
    reason: /args\.items\[1\]\.account is an integer beyond ±2\^53/,
  },
  {
    name: 'an integer beyond 2^53 fails an ALLOW condition that reads args too',
    policy: { grants: [], rules: [everyone('small', { condition: 'args.n < 10' })] },
    args: { n: -(2 ** 60) },
    want: 'DENY',
    ruleId: 'small',
    reason: /args\.n is an integer beyond/,
  },
  {
    name: 'safe integers and fractions beyond 2^53 in scale are judged as usual',
    policy: {
      grants: [],
      rules: [everyone('ok', { condition: 'args.n == 9007199254740991.0 && args.f > 1.0' })],
    },
    args: { n: Number.MAX_SAFE_INTEGER, f: 1.5 },
    want: 'ALLOW',
    ruleId: 'ok',
  },
  {
    name: 'a condition that does not read args ignores them',
    policy: { grants: [], rules: [everyone('m', { condition: 'method == "tools/call"' })] },
    args: { n: 2 ** 60 },
    want: 'ALLOW',
    ruleId: 'm',
  },
  {
    name: 'CEL that yields a non-bool denies',
    policy: { grants: [], rules: [everyone('s', { condition: 'target' })] },
    want: 'DENY',
    ruleId: 's',
    reason: /did not evaluate to a bool/,
  },
  {
    name: 'CEL sees method and target',
    policy: {
      grants: [],
      rules: [everyone('m', { condition: 'method == "tools/call" && target.endsWith("rch")' })],
    },
    want: 'ALLOW',
    ruleId: 'm',
  },
];

function p(
  partial: Partial<{
    users: string[];
    groups: string[];
    clientIds: string[];
    claims: Array<{ claim: string; values: string[] }>;
  }>,
) {
  return { users: [], groups: [], clientIds: [], claims: [], ...partial };
}

for (const c of cases) {
  test(`decide: ${c.name}`, () => {
    const engine = compilePolicy(c.policy);
    const d = engine.decide(c.caller ?? alice, c.method ?? 'tools/call', c.target ?? 'search', c.args);
    assert.equal(d.effect, c.want, d.reason);
    assert.equal(d.ruleId, c.ruleId);
    if (c.reason) assert.match(d.reason, c.reason);
  });
}

test('visible: list entries follow the same rules; arguments-only conditions are undecided', () => {
  const engine = compilePolicy({
    grants: [],
    rules: [
      everyone('calls', { methods: ['tools/call'], targets: ['search', 'read_*', 'write_*'] }),
      rule({ id: 'no-write', effect: 'DENY', targets: ['write_*'] }),
      rule({ id: 'big', effect: 'DENY', condition: 'args.count > 100' }),
      everyone('cond', { methods: ['tools/call'], targets: ['maybe'], condition: 'args.ok == true' }),
    ],
  });
  assert.equal(engine.visible(alice, 'tools/call', 'search'), true);
  assert.equal(engine.visible(alice, 'tools/call', 'read_file'), true);
  assert.equal(engine.visible(alice, 'tools/call', 'write_file'), false);
  assert.equal(engine.visible(alice, 'tools/call', 'other'), false);
  assert.equal(engine.visible(alice, 'tools/call', 'maybe'), true);
  // The call itself is decided with its arguments.
  assert.equal(engine.decide(alice, 'tools/call', 'maybe', { ok: false }).effect, 'DENY');
  assert.equal(engine.decide(alice, 'tools/call', 'search', { count: 1000 }).ruleId, 'big');
});

test('compilePolicy: bad rules are refused with the rule named', () => {
  const bad: Array<[Partial<RuleSpec>, RegExp]> = [
    [{ condition: 'args.x ==' }, /rule "r": condition does not parse/],
    [{ condition: 'secret == 1' }, /rule "r": condition unknown variable "secret"/],
    [{ condition: 'args.a.all(x, args.b.exists(y, y == x))' }, /rule "r": condition a comprehension/],
    [{ condition: `${'true && '.repeat(300)}true` }, /rule "r": condition (longer|more than)/],
    [{ effect: 'MAYBE' as 'ALLOW' }, /rule "r": effect must be "ALLOW" or "DENY"/],
    [{ targets: [''] }, /rule "r": a glob must not be empty/],
    [{ principals: p({ claims: [{ claim: 'x', values: [] }] }) }, /rule "r": a claim matcher/],
  ];
  for (const [partial, message] of bad) {
    assert.throws(
      () => compilePolicy({ grants: [], rules: [rule({ id: 'r', effect: 'ALLOW', ...partial })] }),
      message,
    );
  }
  assert.throws(
    () => compilePolicy({ grants: [], rules: [everyone('dup'), everyone('dup')] }),
    /rule "dup" is defined twice/,
  );
  assert.throws(() => compilePolicy({ grants: [], rules: [everyone('has space')] }), /rule id "has space"/);
});
