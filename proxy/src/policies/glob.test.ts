import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileGlobs, globMatches } from './glob.ts';

test('globMatches: table of patterns and names', () => {
  const cases: Array<[string, string, boolean]> = [
    ['tools/call', 'tools/call', true],
    ['tools/call', 'tools/calls', false],
    ['tools/*', 'tools/call', true],
    ['tools/*', 'tools/', true],
    ['tools/*', 'tool/call', false],
    ['*', '', true],
    ['*', 'a/b/c', true],
    ['?', '', false],
    ['?', 'a', true],
    ['?', 'ab', false],
    ['a?c', 'abc', true],
    ['a?c', 'ac', false],
    ['*_admin', 'delete_admin', true],
    ['*_admin', 'delete_admin_x', false],
    ['search_*_v?', 'search_web_v2', true],
    ['search_*_v?', 'search_web_v', false],
    ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXcYb', false],
    ['file:///tmp/*', 'file:///tmp/x/y', true],
    ['file:///tmp/*', 'file:///etc/passwd', false],
    // Regex metacharacters are literal.
    ['a.b', 'aXb', false],
    ['a.b', 'a.b', true],
    ['(x)+', '(x)+', true],
    ['[ab]', 'a', false],
    ['', '', true],
    ['', 'a', false],
  ];
  for (const [pattern, name, want] of cases) {
    assert.equal(globMatches(pattern, name), want, `${pattern} vs ${name}`);
  }
});

test('globMatches: a pathological pattern stays linear-ish (completes, no backtracking blow-up)', () => {
  const pattern = `${'*a'.repeat(40)}*b`;
  const name = 'a'.repeat(5000);
  assert.equal(globMatches(pattern, name), false);
});

test('compileGlobs: exact names, wildcards, empty set', () => {
  assert.equal(compileGlobs([]).matches('anything'), true);
  const g = compileGlobs(['read_file', 'search_**']);
  assert.equal(g.matches('read_file'), true);
  assert.equal(g.matches('read_files'), false);
  assert.equal(g.matches('search_web'), true);
  assert.throws(() => compileGlobs(['']), /must not be empty/);
  assert.throws(() => compileGlobs(['x'.repeat(600)]), /longer than 512/);
});
