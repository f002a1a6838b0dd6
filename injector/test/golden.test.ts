/**
 * Input pod → stored pod, for every case in golden/. `UPDATE_GOLDEN=1 node --test injector/test/golden.test.ts`
 * rewrites the outputs; otherwise a stale or missing output fails.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { stringify } from 'yaml';
import { explain } from '../src/decide.ts';
import { injectPod } from '../src/inject.ts';
import type { JsonValue } from '../src/json-patch.ts';
import { applyPatch } from '../src/json-patch.ts';
import { GOLDEN_DIR, goldenCases, goldenSidecar } from './helpers/golden-cases.ts';

const update = process.env.UPDATE_GOLDEN === '1';
const cases = goldenCases();

test('golden cases exist', () => {
  assert.ok(cases.length >= 8, `only ${cases.length} cases in ${GOLDEN_DIR}`);
});

for (const c of cases) {
  test(`golden: ${c.name}`, () => {
    const result = injectPod(c.pod, {
      namespaceLabels: c.namespaceLabels,
      sidecar: goldenSidecar(c.nativeSidecar),
    });
    const rendered = `# ${explain(result.decision)}\n${stringify(result.pod, { lineWidth: 0 })}`;
    const outPath = join(GOLDEN_DIR, `${c.name}.out.yaml`);
    if (update) writeFileSync(outPath, rendered);
    assert.ok(existsSync(outPath), `${outPath} is missing; run with UPDATE_GOLDEN=1`);
    assert.equal(
      rendered,
      readFileSync(outPath, 'utf8'),
      `${c.name}.out.yaml is stale; run with UPDATE_GOLDEN=1`,
    );
    // The webhook answers with the patch, not the pod: it must produce exactly the golden pod.
    assert.deepEqual(applyPatch(c.pod as JsonValue, result.patch), result.pod);
    // Idempotent: the stored pod, sent again, needs no patch.
    const again = injectPod(result.pod, {
      namespaceLabels: c.namespaceLabels,
      sidecar: goldenSidecar(c.nativeSidecar),
    });
    assert.deepEqual(again.patch, []);
  });
}

test('no output without an input', () => {
  const inputs = new Set(cases.map((c) => c.name));
  const orphans = readdirSync(GOLDEN_DIR)
    .filter((f) => f.endsWith('.out.yaml'))
    .filter((f) => !inputs.has(f.slice(0, -'.out.yaml'.length)));
  assert.deepEqual(orphans, []);
});
