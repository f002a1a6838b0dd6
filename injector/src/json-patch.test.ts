import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseSeed, createRandom, mutateJson, randomJson } from '../test/helpers/random.ts';
import { applyPatch, createPatch, escapePointerToken, jsonEqual } from './json-patch.ts';

test('keys are escaped per RFC 6901: "~" before "/"', () => {
  assert.equal(escapePointerToken('tessera.dev/injected'), 'tessera.dev~1injected');
  assert.equal(escapePointerToken('a~/b'), 'a~0~1b');
  assert.deepEqual(createPatch({ 'a/b': 1 }, { 'a/b': 1, '~1': 2 }), [{ op: 'add', path: '/~01', value: 2 }]);
});

test('prepending an element is a single add at index 0', () => {
  assert.deepEqual(createPatch({ c: [{ n: 'app' }] }, { c: [{ n: 'proxy' }, { n: 'app' }] }), [
    { op: 'add', path: '/c/0', value: { n: 'proxy' } },
  ]);
});

test('appending, removing and changing inside arrays', () => {
  assert.deepEqual(createPatch([1, 2], [1, 2, 3]), [{ op: 'add', path: '/2', value: 3 }]);
  assert.deepEqual(createPatch([1, 2, 3], [1, 3]), [{ op: 'remove', path: '/1' }]);
  assert.deepEqual(createPatch([{ a: 1 }], [{ a: 2 }]), [{ op: 'replace', path: '/0/a', value: 2 }]);
});

test('identical documents give an empty patch, whatever the key order', () => {
  assert.deepEqual(createPatch({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 }), []);
});

test('a change of type replaces the value; a different root replaces the document', () => {
  assert.deepEqual(createPatch({ a: [1] }, { a: { 0: 1 } }), [
    { op: 'replace', path: '/a', value: { 0: 1 } },
  ]);
  assert.deepEqual(createPatch([1], { a: 1 }), [{ op: 'replace', path: '', value: { a: 1 } }]);
});

test('applyPatch rejects paths that do not exist, naming them', () => {
  assert.throws(() => applyPatch({ a: 1 }, [{ op: 'remove', path: '/b' }]), /"\/b" does not exist/);
  assert.throws(
    () => applyPatch([1], [{ op: 'replace', path: '/1', value: 2 }]),
    /index 1 in "\/1" is out of range/,
  );
  assert.throws(() => applyPatch({ a: 1 }, [{ op: 'add', path: 'a', value: 2 }]), /must start with "\/"/);
  assert.throws(() => applyPatch([1], [{ op: 'add', path: '/01', value: 2 }]), /is not an array index/);
});

test('applyPatch leaves its input unchanged', () => {
  const doc = { a: [1, 2] };
  applyPatch(doc, [{ op: 'add', path: '/a/-', value: 3 }]);
  assert.deepEqual(doc, { a: [1, 2] });
});

test('property: applying createPatch(a, b) to a yields b', () => {
  const seed = baseSeed();
  for (let i = 0; i < 3000; i++) {
    const r = createRandom(seed + i);
    const a = randomJson(r);
    const b = mutateJson(r, a);
    const patch = createPatch(a, b);
    const applied = applyPatch(a, patch);
    assert.ok(jsonEqual(applied, b), `seed ${seed + i}: ${JSON.stringify({ a, b, patch, applied })}`);
    if (jsonEqual(a, b)) assert.deepEqual(patch, [], `seed ${seed + i}: equal documents need no patch`);
  }
});
