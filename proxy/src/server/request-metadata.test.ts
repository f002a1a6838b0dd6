import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { JsonRpcMessage } from './jsonrpc.ts';
import { decodeHeaderValue, type ParamHeaderMap, validateRequestMetadata } from './request-metadata.ts';

const V = '2026-07-28';
const meta = {
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientCapabilities': {},
};
const call = (name: string, args: Record<string, unknown> = {}): JsonRpcMessage => ({
  kind: 'request',
  id: 1,
  method: 'tools/call',
  params: { name, arguments: args, _meta: meta },
});
const read = (uri: string): JsonRpcMessage => ({
  kind: 'request',
  id: 2,
  method: 'resources/read',
  params: { uri, _meta: meta },
});
const list: JsonRpcMessage = { kind: 'request', id: 3, method: 'tools/list', params: { _meta: meta } };
const b64 = (s: string) => `=?base64?${Buffer.from(s, 'utf8').toString('base64')}?=`;
const h = (extra: Record<string, string>) => ({ 'mcp-protocol-version': V, ...extra });

type Case = [string, Record<string, string>, JsonRpcMessage, string | undefined, ParamHeaderMap?];
const region: ParamHeaderMap = new Map([['region', ['region']]]);
const nested: ParamHeaderMap = new Map([['tenant', ['ctx', 'tenant']]]);
const count: ParamHeaderMap = new Map([['count', ['count']]]);

const cases: Case[] = [
  // accepted
  ['tools/list with method header', h({ 'mcp-method': 'tools/list' }), list, undefined],
  ['tools/call with name', h({ 'mcp-method': 'tools/call', 'mcp-name': 'echo' }), call('echo'), undefined],
  [
    'resources/read with uri',
    h({ 'mcp-method': 'resources/read', 'mcp-name': 'file:///a.txt' }),
    read('file:///a.txt'),
    undefined,
  ],
  ['base64 name', h({ 'mcp-method': 'tools/call', 'mcp-name': b64('héllo') }), call('héllo'), undefined],
  [
    'base64 of a plain name still matches',
    h({ 'mcp-method': 'tools/call', 'mcp-name': b64('echo') }),
    call('echo'),
    undefined,
  ],
  [
    'literal sentinel lookalike, encoded',
    h({ 'mcp-method': 'tools/call', 'mcp-name': b64('=?base64?x?=') }),
    call('=?base64?x?='),
    undefined,
  ],
  [
    'param header matches',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-region': 'us-west1' }),
    call('t', { region: 'us-west1' }),
    undefined,
    region,
  ],
  [
    'param header absent for absent argument',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't' }),
    call('t', {}),
    undefined,
    region,
  ],
  [
    'param header absent for null argument',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't' }),
    call('t', { region: null }),
    undefined,
    region,
  ],
  [
    'nested param path',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-tenant': 'acme' }),
    call('t', { ctx: { tenant: 'acme' } }),
    undefined,
    nested,
  ],
  [
    'integer compared numerically',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-count': '42.0' }),
    call('t', { count: 42 }),
    undefined,
    count,
  ],
  [
    'base64 param value',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-region': b64(' padded ') }),
    call('t', { region: ' padded ' }),
    undefined,
    region,
  ],
  [
    'unknown param header is only checked for encoding',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-other': 'x' }),
    call('t'),
    undefined,
  ],
  [
    'boolean mirrored in lower case',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-flag': 'false' }),
    call('t', { flag: false }),
    undefined,
    new Map([['flag', ['flag']]]),
  ],
  [
    'a header the annotations do not name is forwarded (§Server Behavior for Custom Headers)',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-region': 'us', 'mcp-param-zone': 'b' }),
    call('t', { region: 'us' }),
    undefined,
    region,
  ],
  // refused: version
  ['missing version header', { 'mcp-method': 'tools/list' }, list, 'header_mismatch'],
  [
    'version header disagrees with body',
    { 'mcp-protocol-version': '2026-08-01', 'mcp-method': 'tools/list' },
    list,
    'header_mismatch',
  ],
  [
    'modern header but no body claim',
    h({ 'mcp-method': 'tools/list' }),
    { kind: 'request', id: 1, method: 'tools/list', params: { _meta: {} } },
    'invalid_params',
  ],
  [
    'modern header but no _meta at all',
    h({ 'mcp-method': 'tools/list' }),
    { kind: 'request', id: 1, method: 'tools/list', params: undefined },
    'invalid_params',
  ],
  [
    'claim that is not a string',
    h({ 'mcp-method': 'tools/list' }),
    {
      kind: 'request',
      id: 1,
      method: 'tools/list',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': 20260728 } },
    },
    'header_mismatch',
  ],
  [
    "a revision unknown to the proxy is the upstream's to refuse",
    { 'mcp-protocol-version': '2099-01-01', 'mcp-method': 'ping' },
    {
      kind: 'request',
      id: 1,
      method: 'ping',
      params: {
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2099-01-01',
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    },
    undefined,
  ],
  [
    'a request without clientCapabilities in _meta',
    { 'mcp-protocol-version': V, 'mcp-method': 'tools/list' },
    {
      kind: 'request',
      id: 1,
      method: 'tools/list',
      params: { _meta: { 'io.modelcontextprotocol/protocolVersion': V } },
    },
    'invalid_params',
  ],
  [
    'a request whose clientCapabilities is not an object',
    { 'mcp-protocol-version': V, 'mcp-method': 'tools/list' },
    {
      kind: 'request',
      id: 1,
      method: 'tools/list',
      params: {
        _meta: {
          'io.modelcontextprotocol/protocolVersion': V,
          'io.modelcontextprotocol/clientCapabilities': [],
        },
      },
    },
    'invalid_params',
  ],
  // refused: method
  ['missing Mcp-Method', h({}), list, 'header_mismatch'],
  ['wrong Mcp-Method', h({ 'mcp-method': 'tools/call' }), list, 'header_mismatch'],
  ['Mcp-Method differs only in case', h({ 'mcp-method': 'Tools/List' }), list, 'header_mismatch'],
  // refused: name
  ['missing Mcp-Name on tools/call', h({ 'mcp-method': 'tools/call' }), call('echo'), 'header_mismatch'],
  [
    'missing Mcp-Name on resources/read',
    h({ 'mcp-method': 'resources/read' }),
    read('file:///a'),
    'header_mismatch',
  ],
  ['Mcp-Name mismatch', h({ 'mcp-method': 'tools/call', 'mcp-name': 'echo' }), call('rm'), 'header_mismatch'],
  [
    'Mcp-Name with non-ASCII characters unencoded',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 'h\u00e9llo' }),
    call('héllo'),
    'header_mismatch',
  ],
  [
    'Mcp-Name with a control character',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 'a\u0001b' }),
    call('a\u0001b'),
    'header_mismatch',
  ],
  [
    'Mcp-Name malformed base64',
    h({ 'mcp-method': 'tools/call', 'mcp-name': '=?base64?@@@?=' }),
    call('x'),
    'header_mismatch',
  ],
  [
    'Mcp-Name base64 of invalid UTF-8',
    h({ 'mcp-method': 'tools/call', 'mcp-name': '=?base64?/w==?=' }),
    call('\ufffd'),
    'header_mismatch',
  ],
  [
    'Mcp-Name sentinel with upper-case marker is literal',
    h({ 'mcp-method': 'tools/call', 'mcp-name': `=?BASE64?${Buffer.from('x').toString('base64')}?=` }),
    call('x'),
    'header_mismatch',
  ],
  // refused: params
  [
    'param header mismatch',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-region': 'eu' }),
    call('t', { region: 'us' }),
    'header_mismatch',
    region,
  ],
  [
    'param header missing while body has the value',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't' }),
    call('t', { region: 'us' }),
    'header_mismatch',
    region,
  ],
  [
    'param header present while body lacks the value',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-region': 'us' }),
    call('t', {}),
    'header_mismatch',
    region,
  ],
  [
    'param header with invalid characters',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-x': 'caf\u00e9' }),
    call('t'),
    'header_mismatch',
  ],
  [
    'param header malformed base64',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-x': '=?base64?abc?=' }),
    call('t'),
    'header_mismatch',
  ],
  [
    'bare Mcp-Param- header',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-': 'x' }),
    call('t'),
    'header_mismatch',
  ],
  [
    'integer header not a number',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-count': 'forty' }),
    call('t', { count: 42 }),
    'header_mismatch',
    count,
  ],
  [
    'annotated argument is an object',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-region': 'x' }),
    call('t', { region: { a: 1 } }),
    'header_mismatch',
    region,
  ],
  [
    'integer in hexadecimal is not decimal',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-count': '0x2a' }),
    call('t', { count: 42 }),
    'header_mismatch',
    count,
  ],
  [
    'annotated integer argument is a fraction',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-count': '1.5' }),
    call('t', { count: 1.5 }),
    'header_mismatch',
    count,
  ],
  [
    'boolean header differs in case',
    h({ 'mcp-method': 'tools/call', 'mcp-name': 't', 'mcp-param-flag': 'True' }),
    call('t', { flag: true }),
    'header_mismatch',
    new Map([['flag', ['flag']]]),
  ],
  // refused: message kind
  ['a posted response', h({}), { kind: 'response', id: 1, error: undefined }, 'invalid_message'],
];

describe('validateRequestMetadata', () => {
  for (const [name, headers, message, expected, params] of cases) {
    test(`${expected ?? 'accepts'}: ${name}`, () => {
      const verdict = validateRequestMetadata(headers, message, params);
      if (expected === undefined) assert.deepEqual(verdict, { ok: true });
      else {
        assert.equal(verdict.ok, false, `expected ${expected}`);
        if (!verdict.ok) assert.equal(verdict.kind, expected, verdict.message);
      }
    });
  }

  test('a notification needs no Mcp-Method, but one that is sent must agree', () => {
    const n: JsonRpcMessage = { kind: 'notification', method: 'notifications/x', params: { _meta: meta } };
    assert.deepEqual(validateRequestMetadata(h({}), n), { ok: true });
    assert.equal(validateRequestMetadata(h({ 'mcp-method': 'other' }), n).ok, false);
  });
});

test('decodeHeaderValue follows the spec examples', () => {
  assert.equal(decodeHeaderValue('us-west1'), 'us-west1');
  assert.equal(decodeHeaderValue('=?base64?SGVsbG8sIOS4lueVjA==?='), 'Hello, 世界');
  assert.equal(decodeHeaderValue('=?base64?IHBhZGRlZCA=?='), ' padded ');
  assert.equal(decodeHeaderValue('=?base64?bGluZTEKbGluZTI=?='), 'line1\nline2');
  assert.equal(decodeHeaderValue('=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?='), '=?base64?literal?=');
  assert.equal(decodeHeaderValue('=?base64??='), '');
  assert.equal(decodeHeaderValue('=?base64?SGVsbG8?='), undefined, 'unpadded Base64 is not canonical');
  assert.equal(decodeHeaderValue('tab\there'), 'tab\there');
  assert.equal(decodeHeaderValue('del\u007f'), undefined);
});
