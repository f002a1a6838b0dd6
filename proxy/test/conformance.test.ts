/**
 * The MCP conformance suite gives the same outcome, check by check, directly against our fixture and
 * through the proxy, for every protocol revision the suite offers. See proxy/test/conformance/README.md.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REVISIONS, runConformance } from './conformance/run.ts';

test('the proxy is transparent to the conformance suite', { timeout: 600_000 }, async () => {
  const results = await runConformance();
  for (const revision of REVISIONS) {
    const { direct, proxied } = results.revisions[revision]!;
    // A scenario the fixture passes must exist, or the comparison proves nothing.
    assert.ok(
      Object.values(direct).filter((o) => o.passed).length >= 20,
      `${revision}: too few scenarios pass directly`,
    );
    assert.deepEqual(Object.keys(proxied).sort(), Object.keys(direct).sort(), `${revision}: scenario sets`);
    for (const [scenario, outcome] of Object.entries(direct)) {
      assert.deepEqual(proxied[scenario]!.checks, outcome.checks, `${revision} ${scenario}: check statuses`);
    }
  }
});
