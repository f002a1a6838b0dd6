import assert from 'node:assert/strict';
import { test } from 'node:test';
import { filterListResponse, isListMethod } from './list-filter.ts';

const visible = (method: string, target: string) => method !== 'x' && !target.includes('secret');

test('filters each list kind by the method that would use its entries', () => {
  const seen: string[] = [];
  const spy = (m: string, t: string) => {
    seen.push(`${m} ${t}`);
    return visible(m, t);
  };
  const tools = {
    jsonrpc: '2.0',
    id: 1,
    result: { tools: [{ name: 'a' }, { name: 'secret_b' }, { nameless: true }, null], nextCursor: 'c' },
  };
  assert.deepEqual(filterListResponse('tools/list', tools, spy), {
    jsonrpc: '2.0',
    id: 1,
    result: { tools: [{ name: 'a' }], nextCursor: 'c' },
  });
  assert.deepEqual(seen, ['tools/call a', 'tools/call secret_b']);
  const prompts = { id: 1, result: { prompts: [{ name: 'secret' }] } };
  assert.deepEqual(filterListResponse('prompts/list', prompts, visible), { id: 1, result: { prompts: [] } });
  const res = { id: 1, result: { resources: [{ uri: 'file:///a' }, { uri: 'file:///secret' }] } };
  assert.deepEqual(filterListResponse('resources/list', res, visible).result, {
    resources: [{ uri: 'file:///a' }],
  });
  const tpl = { id: 1, result: { resourceTemplates: [{ uriTemplate: 'db://secret/{id}' }] } };
  assert.deepEqual(filterListResponse('resources/templates/list', tpl, visible).result, {
    resourceTemplates: [],
  });
});

test('leaves other methods, errors and odd shapes alone', () => {
  const error = { id: 1, error: { code: -1, message: 'x' } };
  assert.equal(filterListResponse('tools/list', error, visible), error);
  const unchanged = { id: 1, result: { tools: [{ name: 'a' }] } };
  assert.equal(filterListResponse('tools/list', unchanged, visible), unchanged);
  const odd = { id: 1, result: { tools: 'nope' } };
  assert.equal(filterListResponse('tools/list', odd, visible), odd);
  assert.equal(isListMethod('tools/list'), true);
  assert.equal(isListMethod('tools/call'), false);
  assert.equal(isListMethod('__proto__'), false);
});
