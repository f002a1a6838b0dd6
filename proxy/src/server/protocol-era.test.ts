import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JsonRpcMessage } from './jsonrpc.ts';
import { detectEra, isModernRevision } from './protocol-era.ts';

const meta = (v: unknown) => ({ _meta: { 'io.modelcontextprotocol/protocolVersion': v } });
const req = (method: string, params?: Record<string, unknown>): JsonRpcMessage => ({
  kind: 'request',
  id: 1,
  method,
  params,
});

const cases: [string, Record<string, string>, JsonRpcMessage | undefined, 'legacy' | 'modern'][] = [
  ['initialize without headers', {}, req('initialize', { protocolVersion: '2025-11-25' }), 'legacy'],
  [
    'legacy call with a legacy version header',
    { 'mcp-protocol-version': '2025-11-25' },
    req('tools/list'),
    'legacy',
  ],
  ['GET stream', { 'mcp-session-id': 's' }, undefined, 'legacy'],
  ['body claim without header', {}, req('tools/list', meta('2026-07-28')), 'modern'],
  ['body claim of an unknown future revision', {}, req('tools/list', meta('2099-01-01')), 'modern'],
  ['modern header without claim', { 'mcp-protocol-version': '2026-07-28' }, req('tools/list'), 'modern'],
  ['later modern header without claim', { 'mcp-protocol-version': '2027-01-01' }, undefined, 'modern'],
  ['garbage header', { 'mcp-protocol-version': 'latest' }, req('tools/list'), 'legacy'],
  ['claim-less server/discover', {}, req('server/discover'), 'legacy'],
  ['response body', {}, { kind: 'response', id: 1, error: undefined }, 'legacy'],
  [
    'notification with claim',
    {},
    { kind: 'notification', method: 'x', params: meta('2026-07-28') },
    'modern',
  ],
];

for (const [name, headers, message, era] of cases) {
  test(`era: ${name} → ${era}`, () => assert.equal(detectEra(headers, message), era));
}

test('isModernRevision compares dates and rejects non-dates', () => {
  assert.equal(isModernRevision('2026-07-28'), true);
  assert.equal(isModernRevision('2026-07-27'), false);
  assert.equal(isModernRevision('2025-11-25'), false);
  assert.equal(isModernRevision('2026-7-28'), false);
  assert.equal(isModernRevision(''), false);
});
