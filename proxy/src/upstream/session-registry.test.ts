import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSessionRegistry } from './session-registry.ts';

test('a session belongs to the principal that opened it', () => {
  const r = createSessionRegistry();
  r.add('s1', 'alice');
  assert.equal(r.owns('s1', 'alice'), true);
  assert.equal(r.owns('s1', 'bob'), false);
  assert.equal(r.owns('s2', 'alice'), false);
  r.remove('s1');
  assert.equal(r.owns('s1', 'alice'), false);
});

test('the least recently used session is forgotten first when full', () => {
  const r = createSessionRegistry({ maxSessions: 2 });
  r.add('a', 'p');
  r.add('b', 'p');
  assert.equal(r.owns('a', 'p'), true); // a is now the most recent
  r.add('c', 'p');
  assert.equal(r.size, 2);
  assert.equal(r.owns('b', 'p'), false);
  assert.equal(r.owns('a', 'p'), true);
  assert.equal(r.owns('c', 'p'), true);
});

test('idle sessions expire', () => {
  let t = 0;
  const r = createSessionRegistry({ idleMs: 100, now: () => t });
  r.add('a', 'p');
  t = 100;
  assert.equal(r.owns('a', 'p'), true);
  t = 201;
  assert.equal(r.owns('a', 'p'), false);
  assert.equal(r.size, 0);
});
