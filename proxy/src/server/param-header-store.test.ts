import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JsonRpcMessage } from './jsonrpc.ts';
import { createParamHeaderStore } from './param-header-store.ts';
import { defaultParamHeaderLimits } from './param-headers.ts';

const annotated = (name: string, header = 'Region') => ({
  name,
  inputSchema: { type: 'object', properties: { region: { type: 'string', 'x-mcp-header': header } } },
});
const plain = (name: string) => ({ name, inputSchema: { type: 'object', properties: {} } });
const listReq = (cursor?: string): JsonRpcMessage => ({
  kind: 'request',
  id: 1,
  method: 'tools/list',
  params: cursor === undefined ? {} : { cursor },
});
const callReq = (name: unknown): JsonRpcMessage => ({
  kind: 'request',
  id: 2,
  method: 'tools/call',
  params: { name, arguments: {} },
});
const answer = (tools: unknown[]) => ({ jsonrpc: '2.0', id: 1, result: { tools } });

test('learns from a tools/list answer and answers for tools/call only', () => {
  const store = createParamHeaderStore();
  assert.equal(store.forCall(callReq('sql')), undefined);
  store.learnerFor(listReq())!(answer([annotated('sql'), plain('echo')]));
  assert.deepEqual(Object.fromEntries(store.forCall(callReq('sql'))!), { region: ['region'] });
  assert.equal(store.forCall(callReq('echo')), undefined);
  assert.equal(store.forCall(callReq(42)), undefined);
  assert.equal(
    store.forCall({ kind: 'request', id: 3, method: 'prompts/get', params: { name: 'sql' } }),
    undefined,
  );
  assert.equal(store.forCall(undefined), undefined);
  assert.equal(store.learnerFor(callReq('sql')), undefined);
  assert.equal(store.learnerFor({ kind: 'notification', method: 'tools/list', params: {} }), undefined);
});

test('a first page replaces what was known; later pages add and correct', () => {
  const store = createParamHeaderStore();
  store.learnerFor(listReq())!(answer([annotated('a'), annotated('b')]));
  store.learnerFor(listReq('p2'))!(answer([annotated('c'), plain('a')]));
  assert.equal(store.forCall(callReq('a')), undefined, 'a later page without annotations forgets them');
  assert.ok(store.forCall(callReq('b')));
  assert.ok(store.forCall(callReq('c')));
  store.learnerFor(listReq())!(answer([annotated('c', 'Zone')]));
  assert.equal(store.size, 1);
  assert.deepEqual([...store.forCall(callReq('c'))!.keys()], ['zone']);
});

test('error answers teach nothing, invalid tools are logged and forgotten', () => {
  const warnings: unknown[] = [];
  const store = createParamHeaderStore({ log: (level, _msg, fields) => warnings.push([level, fields]) });
  store.learnerFor(listReq())!(answer([annotated('a')]));
  store.learnerFor(listReq())!({ jsonrpc: '2.0', id: 1, error: { code: -32603, message: 'x' } });
  assert.equal(store.size, 1);
  store.learnerFor(listReq('p2'))!(answer([annotated('a', 'bad name')]));
  assert.equal(store.forCall(callReq('a')), undefined);
  assert.equal(warnings.length, 1);
  assert.equal((warnings[0] as unknown[])[0], 'warn');
});

test('later pages stop adding at maxTools', () => {
  const store = createParamHeaderStore({ limits: { ...defaultParamHeaderLimits, maxTools: 2 } });
  store.learnerFor(listReq())!(answer([annotated('a'), annotated('b')]));
  store.learnerFor(listReq('p2'))!(answer([annotated('c')]));
  assert.equal(store.size, 2);
  assert.equal(store.forCall(callReq('c')), undefined);
});
