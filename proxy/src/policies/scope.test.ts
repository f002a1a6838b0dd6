import assert from 'node:assert/strict';
import { test } from 'node:test';
import { missingScopes } from './scope.ts';

test('missingScopes names every required scope the token lacks', () => {
  assert.deepEqual(missingScopes(['mcp'], ['mcp']), []);
  assert.deepEqual(missingScopes([], ['mcp', 'mcp:write']), ['mcp', 'mcp:write']);
  assert.deepEqual(missingScopes(['mcp:write', 'other'], ['mcp', 'mcp:write']), ['mcp']);
  assert.deepEqual(missingScopes(['anything'], []), []);
  // Scopes are compared exactly: a prefix is not the scope.
  assert.deepEqual(missingScopes(['mc'], ['mcp']), ['mcp']);
});
