import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureSteps, STEPS, stepsMarkdown } from './steps.ts';

describe('the per-request steps', () => {
  it('each step does its job on the benchmark request (none fails or is skipped)', () => {
    const outputs = STEPS.map((s) => s.run());
    const decision = outputs[STEPS.findIndex((s) => s.where === 'policies/policy-engine.ts')] as {
      effect: string;
    };
    assert.equal(decision.effect, 'ALLOW');
    const digest = outputs[STEPS.findIndex((s) => s.where === 'audit/body-capture.ts')];
    assert.match(String(digest), /^[0-9a-f]{64}$/);
    const framing = outputs[STEPS.findIndex((s) => s.where === 'server/wire-framing.ts')];
    assert.equal(framing, 'legacy');
    // Both parsers consume their whole message: nothing is left over.
    for (const where of ['http1/request-parser.ts', 'upstream/http1-response-parser.ts']) {
      const rest = outputs[STEPS.findIndex((s) => s.where === where)] as Buffer | undefined;
      assert.equal(rest?.length ?? 0, 0, where);
    }
  });

  it('reports a median per step and a table with their sum', () => {
    const results = measureSteps(STEPS, { runs: 20, batches: 3, warmup: 5 });
    assert.deepEqual(
      results.map((r) => r.name),
      STEPS.map((s) => s.name),
    );
    for (const r of results) {
      assert.equal(r.batches_ns.length, 3);
      assert.ok(r.batches_ns.includes(r.ns), `${r.name}: the median of three is one of them`);
    }
    const md = stepsMarkdown([
      { name: 'a', where: 'x.ts', ns: 1500, batches_ns: [1500] },
      { name: 'b', where: 'y.ts', ns: 250, batches_ns: [250] },
    ]);
    assert.match(md, /\| a \| `x\.ts` \| 1\.50 \|/);
    assert.match(md, /\| \*\*all of the above\*\* \| \| \*\*1\.75\*\* \|/);
  });
});
