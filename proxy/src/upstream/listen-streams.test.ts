import assert from 'node:assert/strict';
import { test } from 'node:test';
import { honouredFilter, isSubResource, subscribableUris } from './listen-streams.ts';

test('honouredFilter: the list changes the server declared, and nothing else', () => {
  const caps = { tools: { listChanged: true }, resources: { subscribe: true } };
  assert.deepEqual(
    honouredFilter(
      { toolsListChanged: true, resourcesListChanged: true, resourceSubscriptions: ['a'] },
      caps,
    ),
    { toolsListChanged: true },
  );
  assert.deepEqual(honouredFilter({ toolsListChanged: 'yes' }, caps), {});
  assert.deepEqual(honouredFilter({ promptsListChanged: true }, undefined), {});
});

test('subscribableUris: the requested URIs once each, only from a server that declared resources.subscribe', () => {
  const requested = { resourceSubscriptions: ['file:///b', 'file:///a', 'file:///b', 7, null] };
  assert.deepEqual(subscribableUris(requested, { resources: { subscribe: true } }), [
    'file:///b',
    'file:///a',
  ]);
  assert.deepEqual(subscribableUris(requested, { resources: { listChanged: true } }), []);
  assert.deepEqual(subscribableUris(requested, { resources: { subscribe: 'yes' } }), []);
  assert.deepEqual(subscribableUris(requested, undefined), []);
  assert.deepEqual(
    subscribableUris({ resourceSubscriptions: 'file:///a' }, { resources: { subscribe: true } }),
    [],
  );
  assert.deepEqual(subscribableUris({}, { resources: { subscribe: true } }), []);
});

test('isSubResource: a path below the URI, never a longer name or the URI itself', () => {
  assert.equal(isSubResource('file:///logs/app.log', 'file:///logs'), true);
  assert.equal(isSubResource('file:///logs/a/b', 'file:///logs/'), true);
  assert.equal(isSubResource('note://a/child', 'note://a'), true);
  assert.equal(isSubResource('file:///logs2', 'file:///logs'), false);
  assert.equal(isSubResource('file:///logs', 'file:///logs'), false);
  assert.equal(isSubResource('file:///logs/', 'file:///logs/'), false);
  assert.equal(isSubResource('file:///log', 'file:///logs'), false);
  assert.equal(isSubResource('file:///logs?x=1', 'file:///logs'), false);
});
