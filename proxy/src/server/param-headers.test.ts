import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultParamHeaderLimits, listParamHeaders, schemaParamHeaders } from './param-headers.ts';

const object = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties,
  ...extra,
});
const str = (header?: string) => ({
  type: 'string',
  ...(header === undefined ? {} : { 'x-mcp-header': header }),
});

// [name, inputSchema, expected headers (suffix → path) or the start of the reason]
type Case = [string, unknown, Record<string, string[]> | string];

const cases: Case[] = [
  ['no annotations', object({ q: str() }), {}],
  ['not an object schema', 'nonsense', {}],
  ['top-level string', object({ region: str('Region'), q: str() }), { region: ['region'] }],
  [
    'integer and nullable boolean',
    object({
      n: { type: 'integer', 'x-mcp-header': 'Count' },
      b: { type: ['boolean', 'null'], 'x-mcp-header': 'Flag' },
    }),
    { count: ['n'], flag: ['b'] },
  ],
  [
    'nested through properties',
    object({ ctx: object({ tenant: str('Tenant-Id') }) }),
    { 'tenant-id': ['ctx', 'tenant'] },
  ],
  [
    'an "x-mcp-header" key inside default or enum is data',
    object({ a: { type: 'object', default: { 'x-mcp-header': 'nope' }, enum: [{ 'x-mcp-header': 'no' }] } }),
    {},
  ],
  ['a property named x-mcp-header is a property', object({ 'x-mcp-header': str() }), {}],
  // invalid: the tool is ignored
  ['empty name', object({ a: str('') }), 'x-mcp-header "" is not an HTTP field-name token'],
  ['name with a space', object({ a: str('Re gion') }), 'x-mcp-header "Re gion" is not an HTTP'],
  ['name with CR LF', object({ a: str('A\r\nX-Evil') }), 'x-mcp-header "A\\r\\nX-Evil" is not an HTTP'],
  ['name with a colon', object({ a: str('A:B') }), 'x-mcp-header "A:B" is not an HTTP'],
  ['name not a string', object({ a: { type: 'string', 'x-mcp-header': 7 } }), 'x-mcp-header 7 is not'],
  [
    'duplicate names differing in case',
    object({ a: str('Region'), b: str('REGION') }),
    'x-mcp-header "REGION" is not unique',
  ],
  [
    'number type',
    object({ a: { type: 'number', 'x-mcp-header': 'N' } }),
    'x-mcp-header "N" is on a property',
  ],
  ['no type', object({ a: { 'x-mcp-header': 'N' } }), 'x-mcp-header "N" is on a property of type undefined'],
  [
    'object type',
    object({ a: { type: 'object', 'x-mcp-header': 'O' } }),
    'x-mcp-header "O" is on a property',
  ],
  [
    'two primitive types',
    object({ a: { type: ['string', 'integer'], 'x-mcp-header': 'S' } }),
    'x-mcp-header "S" is on a property',
  ],
  ['on the root', { type: 'string', 'x-mcp-header': 'Root' }, 'x-mcp-header "Root" is not reachable'],
  [
    'under items',
    object({ a: { type: 'array', items: str('Item') } }),
    'x-mcp-header "Item" is not reachable',
  ],
  ['under anyOf', object({ a: { anyOf: [str('Any')] } }), 'x-mcp-header "Any" is not reachable'],
  [
    'under $defs',
    object({ a: { $ref: '#/$defs/r' } }, { $defs: { r: str('Def') } }),
    'x-mcp-header "Def" is not reachable',
  ],
  [
    'under additionalProperties',
    object({}, { additionalProperties: str('Extra') }),
    'x-mcp-header "Extra" is not reachable',
  ],
  [
    'properties inside a composition stay unreachable',
    object({ a: { allOf: [object({ b: str('Deep') })] } }),
    'x-mcp-header "Deep" is not reachable',
  ],
];

describe('schemaParamHeaders', () => {
  for (const [name, schema, expected] of cases) {
    test(name, () => {
      const got = schemaParamHeaders(schema);
      if (typeof expected === 'string') {
        assert.equal(got.ok, false);
        if (!got.ok) assert.ok(got.reason.startsWith(expected), got.reason);
      } else {
        assert.ok(got.ok, got.ok ? '' : got.reason);
        if (got.ok) assert.deepEqual(Object.fromEntries(got.headers), expected);
      }
    });
  }

  test('limits: annotations, values and depth', () => {
    const limits = { ...defaultParamHeaderLimits, maxHeadersPerTool: 2, maxSchemaNodes: 50, maxDepth: 6 };
    const three = object({ a: str('A'), b: str('B'), c: str('C') });
    assert.match(reason(schemaParamHeaders(three, limits)), /more than 2 x-mcp-header/);
    const wide = object(Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`p${i}`, str()])));
    assert.match(reason(schemaParamHeaders(wide, limits)), /more than 50 values/);
    let deep: Record<string, unknown> = str('Deep');
    for (let i = 0; i < 7; i++) deep = object({ x: deep });
    assert.match(reason(schemaParamHeaders(deep, limits)), /nested deeper than 6/);
    assert.ok(schemaParamHeaders(object({ a: str('A'), b: str('B') }), limits).ok);
  });
});

function reason(r: ReturnType<typeof schemaParamHeaders>): string {
  return r.ok ? 'accepted' : r.reason;
}

describe('listParamHeaders', () => {
  test('learns annotated tools, lists every name, and says why invalid ones are ignored', () => {
    const got = listParamHeaders({
      tools: [
        { name: 'sql', inputSchema: object({ region: str('Region') }) },
        { name: 'echo', inputSchema: object({ text: str() }) },
        { name: 'bad', inputSchema: object({ a: { type: 'number', 'x-mcp-header': 'N' } }) },
        { inputSchema: object({ a: str('Nameless') }) },
        'not a tool',
      ],
    });
    assert.deepEqual([...got.tools.keys()], ['sql']);
    assert.deepEqual(Object.fromEntries(got.tools.get('sql')!), { region: ['region'] });
    assert.deepEqual([...got.listed], ['sql', 'echo', 'bad']);
    assert.equal(got.ignored.length, 1);
    assert.equal(got.ignored[0]!.tool, 'bad');
    assert.match(got.ignored[0]!.reason, /type "number"/);
  });

  test('a result without a tools array teaches nothing', () => {
    for (const result of [undefined, null, {}, { tools: {} }, []]) {
      const got = listParamHeaders(result);
      assert.equal(got.tools.size + got.listed.size + got.ignored.length, 0);
    }
  });

  test('a name listed twice keeps its last definition', () => {
    const got = listParamHeaders({
      tools: [
        { name: 't', inputSchema: object({ a: str('A') }) },
        { name: 't', inputSchema: object({ a: str() }) },
      ],
    });
    assert.equal(got.tools.size, 0);
  });

  test('annotated tools beyond maxTools are ignored with a reason', () => {
    const tools = Array.from({ length: 3 }, (_, i) => ({
      name: `t${i}`,
      inputSchema: object({ a: str('A') }),
    }));
    const got = listParamHeaders({ tools }, { ...defaultParamHeaderLimits, maxTools: 2 });
    assert.deepEqual([...got.tools.keys()], ['t0', 't1']);
    assert.deepEqual(got.ignored, [{ tool: 't2', reason: 'more than 2 annotated tools' }]);
  });
});
