import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CONDITION_VARIABLES, checkCondition, MAX_CONDITION_LENGTH } from '../src/policy/cel-limits.ts';
import { badConditions } from './fixtures/bad-conditions.ts';

test('checkCondition: accepts conditions within the limits and says whether they read args', () => {
  const cases: Array<[string, boolean]> = [
    ['"eng" in principal.groups && args.path.startsWith("/tmp/")', true],
    ['claims.department == "research" && method == "tools/call"', false],
    ['principal.groups.exists(g, g == "eng") && target.startsWith("read_")', false],
    // A variable bound by a comprehension shadows nothing and is known inside it only.
    ['args.items.all(i, i.size() < 10)', true],
    ['[1, 2].map(x, x * 2).size() == 2 && {"a": 1}["a"] == 1', false],
  ];
  for (const [source, usesArgs] of cases) {
    const c = checkCondition(source);
    assert.ok(c.ok, `${source}: ${c.ok ? '' : c.error}`);
    assert.equal(c.usesArgs, usesArgs, source);
  }
  assert.equal(checkCondition(`method == "${'x'.repeat(MAX_CONDITION_LENGTH - 20)}"`).ok, true);
  for (const v of CONDITION_VARIABLES) assert.equal(checkCondition(`${v} != null`).ok, true, v);
});

test('checkCondition: refuses every condition in the shared table, saying why', () => {
  for (const { condition, error } of badConditions) {
    const c = checkCondition(condition);
    assert.equal(c.ok, false, condition.slice(0, 80));
    assert.match((c as { error: string }).error, error);
  }
});
