import assert from 'node:assert/strict';
import { test } from 'node:test';
import { discoverResult, restoreLine, translateParams } from './stateless-pool.ts';

test('translateParams drops reserved _meta keys and replaces the progress token', () => {
  const params = {
    name: 'echo',
    _meta: {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
      progressToken: 7,
      'com.example/trace': 'x',
    },
  };
  assert.deepEqual(translateParams(params, 'tessera-1'), {
    name: 'echo',
    _meta: { progressToken: 'tessera-1', 'com.example/trace': 'x' },
  });
  assert.deepEqual(translateParams(params, undefined), { name: 'echo', _meta: { 'com.example/trace': 'x' } });
  assert.deepEqual(
    translateParams({ _meta: { 'io.modelcontextprotocol/protocolVersion': 'v' } }, undefined),
    {},
    'an emptied _meta is left out',
  );
  assert.equal(translateParams(undefined, 't'), undefined);
  assert.deepEqual(translateParams({ a: 1 }, 't'), { a: 1 });
});

test('restoreLine gives the response back its id and a resultType, and progress its token', () => {
  const restore = (line: unknown, method: string, token?: string) =>
    JSON.parse(restoreLine(JSON.stringify(line), method, 'tessera-3', 1, token));
  assert.deepEqual(restore({ jsonrpc: '2.0', id: 'tessera-3', result: { tools: [] } }, 'tools/list'), {
    jsonrpc: '2.0',
    id: 1,
    result: { resultType: 'complete', ttlMs: 0, cacheScope: 'private', tools: [] },
  });
  assert.deepEqual(
    restore({ jsonrpc: '2.0', id: 'tessera-3', result: { content: [] } }, 'tools/call').result,
    { resultType: 'complete', content: [] },
    'a tool result is not cacheable',
  );
  const own = { resultType: 'input_required', ttlMs: 60_000, cacheScope: 'public' };
  assert.deepEqual(
    restore({ jsonrpc: '2.0', id: 'tessera-3', result: own }, 'tools/list').result,
    own,
    'the server’s own values stay',
  );
  assert.deepEqual(restore({ jsonrpc: '2.0', id: 'tessera-3', error: { code: -1, message: 'm' } }, 'x'), {
    jsonrpc: '2.0',
    id: 1,
    error: { code: -1, message: 'm' },
  });
  const progress = { progressToken: 'tessera-3', progress: 1 };
  assert.deepEqual(
    restore({ jsonrpc: '2.0', method: 'notifications/progress', params: progress }, 'tools/call', 'p').params,
    { progressToken: 'p', progress: 1 },
  );
  assert.equal(
    restore({ jsonrpc: '2.0', id: 'other', result: {} }, 'tools/list').id,
    'other',
    'a line for another request is left alone',
  );
});

test('discoverResult offers 2026-07-28 with the server’s capabilities, its info in _meta, and instructions', () => {
  const result = discoverResult({
    protocolVersion: '2025-11-25',
    capabilities: { tools: {}, logging: {} },
    serverInfo: { name: 's', version: '1' },
    instructions: 'be nice',
  });
  assert.deepEqual(result, {
    resultType: 'complete',
    supportedVersions: ['2026-07-28'],
    capabilities: { tools: {}, logging: {} },
    _meta: { 'io.modelcontextprotocol/serverInfo': { name: 's', version: '1' } },
    ttlMs: 0,
    cacheScope: 'private',
    instructions: 'be nice',
  });
  assert.deepEqual(discoverResult({}).capabilities, {});
  assert.equal(discoverResult({}).serverInfo, undefined);
  assert.equal(discoverResult({})._meta, undefined);
});

test('discoverResult keeps list-changed notifications and resource subscriptions (listen streams carry them)', () => {
  const result = discoverResult({
    capabilities: {
      tools: { listChanged: true },
      prompts: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      completions: {},
    },
  });
  assert.deepEqual(result.capabilities, {
    tools: { listChanged: true },
    prompts: { listChanged: true },
    resources: { subscribe: true, listChanged: true },
    completions: {},
  });
});

test('restoreLine turns a result with a resultType 2026-07-28 does not define into an error for the client', () => {
  const line = JSON.stringify({
    jsonrpc: '2.0',
    id: 'tessera-3',
    result: { resultType: 'bogus', content: [] },
  });
  const restored = JSON.parse(restoreLine(line, 'tools/call', 'tessera-3', 7, undefined));
  assert.equal(restored.id, 7);
  assert.equal(restored.result, undefined);
  assert.equal(restored.error.code, -31004);
  assert.match(restored.error.message, /resultType "bogus"/);
});
