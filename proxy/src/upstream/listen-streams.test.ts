import assert from 'node:assert/strict';
import { test } from 'node:test';
import { honouredFilter, subscribableUris } from './listen-streams.ts';

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
