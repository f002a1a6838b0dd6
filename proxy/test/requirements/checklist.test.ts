/**
 * Keeps `proxy/test/requirements/README.md` honest. That table maps every item of the MCP gateway
 * checklist (`../shared/reference/mcp-gateway-requirements.md`) in its Transport, stdio sidecars and
 * Security parts to the tests that prove it, or says why the item does not apply to the proxy. This
 * test fails when an item is missing or listed twice, when a cited file or test title no longer
 * exists (a renamed test would otherwise leave the table pointing at nothing), or when the items left
 * as gaps are not exactly the known ones (closing one means updating `KNOWN_GAPS` too).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const table = readFileSync(join(import.meta.dirname, 'README.md'), 'utf8');

/** The checklist's items in the parts the issue names: Transport (1–60), stdio sidecars (61–69), Security (95–106). */
const IN_SCOPE = [...range(1, 69), ...range(95, 106)];

/** Items the proxy does not meet yet (none now); the table would say what is missing in each. */
const KNOWN_GAPS: number[] = [];

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

interface Row {
  item: number;
  requirement: string;
  evidence: string;
}

function rows(markdown: string): Row[] {
  return markdown
    .split('\n')
    .filter((line) => /^\| \d+ \|/.test(line))
    .map((line) => {
      const cells = line.split('|').map((c) => c.trim());
      // A leading and a trailing empty cell around the three columns.
      assert.equal(cells.length, 5, `three columns expected: ${line}`);
      return { item: Number(cells[1]), requirement: cells[2]!, evidence: cells[3]! };
    });
}

/** `path › title` citations of one evidence cell; a `departs:` part (a deliberate departure, with why) is not one. */
function citations(evidence: string): { file: string; title: string }[] {
  const parts = evidence.split('<br>').filter((part) => !part.startsWith('departs:'));
  return parts.map((part) => {
    const [file, title] = part.split(' › ').map((s) => s.trim());
    assert.ok(file && title, `"path › title" expected, got "${part}"`);
    return { file, title };
  });
}

const all = rows(table);

test('every item of the Transport, stdio and Security parts is listed once, in order', () => {
  assert.deepEqual(
    all.map((r) => r.item),
    IN_SCOPE,
  );
  for (const r of all) assert.ok(r.requirement.length > 0, `item ${r.item} has no requirement text`);
});

test('the items left as gaps are exactly the known ones, and each says what is missing', () => {
  const gaps = all.filter((r) => r.evidence.startsWith('gap:'));
  assert.deepEqual(
    gaps.map((r) => r.item),
    KNOWN_GAPS,
  );
  for (const r of gaps) assert.ok(r.evidence.length > 80, `item ${r.item}: say what is missing`);
});

test('an item that does not apply, or a deliberate departure, says why', () => {
  for (const r of all) {
    const reasons = r.evidence.split('<br>').filter((p) => p.startsWith('n/a:') || p.startsWith('departs:'));
    for (const reason of reasons) assert.ok(reason.length > 40, `item ${r.item}: the reason is too short`);
  }
});

test('a deliberate departure still cites what the proxy does instead', () => {
  for (const r of all.filter((r) => r.evidence.includes('departs:'))) {
    assert.ok(citations(r.evidence).length > 0, `item ${r.item}`);
  }
});

test('every cited test exists, under that exact title, in that file', () => {
  let cited = 0;
  for (const r of all.filter((r) => !r.evidence.startsWith('n/a:') && !r.evidence.startsWith('gap:'))) {
    for (const { file, title } of citations(r.evidence)) {
      const path = join(repoRoot, file);
      assert.ok(existsSync(path), `item ${r.item}: ${file} does not exist`);
      const source = readFileSync(path, 'utf8');
      const quoted = [`'${title.replaceAll("'", "\\'")}'`, `"${title}"`, `\`${title}\``];
      assert.ok(
        quoted.some((q) => source.includes(q)),
        `item ${r.item}: no test titled "${title}" in ${file}`,
      );
      cited++;
    }
  }
  assert.ok(cited >= all.length / 2, `only ${cited} citations`);
});
