import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkJsonStructure } from './json-structure.ts';

const ok = (text: string, depth = 64) => assert.equal(checkJsonStructure(text, depth), undefined, text);

/** The problem's message, asserting it is about member names. */
function ambiguous(text: string): string {
  const problem = checkJsonStructure(text, 64);
  assert.equal(problem?.kind, 'ambiguous_names', `expected ambiguous names in ${text}`);
  return problem.kind === 'ambiguous_names' ? problem.message : '';
}

describe('nesting depth', () => {
  test('counts objects and arrays, siblings at the same depth once', () => {
    ok('[[],[],[],[]]', 2);
    assert.deepEqual(checkJsonStructure('[[[]]]', 2), { kind: 'depth' });
    ok('1', 0);
    assert.deepEqual(checkJsonStructure('{}', 0), { kind: 'depth' });
  });

  test('braces inside strings and escaped quotes do not count', () => {
    ok(`{"s":"${'{['.repeat(500)}","t":"\\"${'['.repeat(100)}"}`, 1);
  });

  test('is bounded even for text that is not JSON', () => {
    assert.deepEqual(checkJsonStructure('['.repeat(100_000), 64), { kind: 'depth' });
    ok(']]]}}}{"a":1}', 1);
  });
});

describe('member names', () => {
  test('a repeated member is found at any depth, with where it is', () => {
    assert.match(ambiguous('{"a":1,"a":2}'), /^the message has the member "a" twice/);
    assert.match(
      ambiguous('{"params":{"arguments":{"items":[{"x":1},{"x":2,"y":{"k":1,"k":1}}]}}}'),
      /^params\.arguments\.items\[1\]\.y has the member "k" twice/,
    );
  });

  test('the same name in different objects is fine, as are names inside string values', () => {
    ok('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}],"c":"\\"a\\":1,\\"a\\":2"}');
    ok('{"a":"x","b":"{\\"a\\":1,\\"a\\":2}"}');
  });

  test('escapes in names are decoded before comparing', () => {
    assert.match(ambiguous('{"name":"lookup","n\\u0061me":"wipe"}'), /member "name" twice/);
    assert.match(ambiguous('{"a\\"b":1,"a\\u0022b":2}'), /member "a"b" twice/);
  });

  test('names that differ only in case are refused, with Unicode folding', () => {
    assert.match(
      ambiguous('{"name":"lookup","NAME":"wipe"}'),
      /has the members "name" and "NAME", which differ only in case/,
    );
    // Go's encoding/json folds U+017F (long s) onto s and U+212A (Kelvin) onto k.
    assert.match(ambiguous('{"params":{},"param\u017f":{}}'), /"params" and "paramſ"/);
    assert.match(ambiguous('{"kind":1,"\u212aind":2}'), /"kind" and "\u212aind"/);
    assert.match(ambiguous('{"stra\u00dfe":1,"STRA\u1e9eE":2}'), /differ only in case/);
    ok('{"name":1,"names":2,"nam":3,"é":4,"e":5}');
  });

  test('an object with many members is checked through a map, exactly as a small one', () => {
    const many = Array.from({ length: 5000 }, (_, i) => `"k${i}":${i}`).join(',');
    ok(`{${many}}`);
    assert.match(ambiguous(`{${many},"K4999":1}`), /"k4999" and "K4999"/);
    assert.match(ambiguous(`{${many},"k17":1}`), /member "k17" twice/);
  });

  test('state from one text never leaks into the next', () => {
    ambiguous('{"a":{"b":1,"b":2}}');
    ok('{"a":{"b":1}}');
    ok('{"b":1}');
  });
});
