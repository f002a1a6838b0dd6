import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureAfterPause, measureSteps, STEPS, stepsMarkdown } from './steps.ts';

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

  it('times one pass through every step after each pause, and the pause really happens', () => {
    for (const how of ['sleep', 'spin'] as const) {
      const started = performance.now();
      const r = measureAfterPause(STEPS, { ms: 5, how }, 20);
      // Twenty pauses of 5 ms: the wait is real (a pause that returned at once would measure warm code).
      assert.ok(performance.now() - started >= 100, how);
      assert.equal(r.rounds, 20);
      assert.equal(r.steps_ns.length, STEPS.length);
      for (const ns of [r.total_ns, ...r.steps_ns])
        assert.ok(Number.isInteger(ns) && ns >= 0, `${how}: ${ns}`);
    }
  });

  it('puts the pause figures beside the warm ones, and says how many times the warm sum each is', () => {
    const warm = [
      { name: 'a', where: 'x.ts', ns: 1500, batches_ns: [1500] },
      { name: 'b', where: 'y.ts', ns: 500, batches_ns: [500] },
    ];
    const asleep = { ms: 1, how: 'sleep' as const, rounds: 10, total_ns: 8000, steps_ns: [6000, 1900] };
    const busy = { ms: 1, how: 'spin' as const, rounds: 10, total_ns: 3000, steps_ns: [2000, 900] };
    const md = stepsMarkdown(warm, [asleep, busy], asleep);
    assert.match(md, /\| a \| `x\.ts` \| 1\.50 \| 6\.00 \|/);
    assert.match(md, /\| \*\*all of the above\*\* \| \| \*\*2\.00\*\* \| \*\*8\.00\*\* \|/);
    assert.match(md, /\| asleep 1 ms \| 8\.00 \| 4\.0 \|/);
    assert.match(md, /\| busy 1 ms \| 3\.00 \| 1\.5 \|/);
  });
});
