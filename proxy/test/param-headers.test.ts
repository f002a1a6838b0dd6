/**
 * `Mcp-Param-*` headers on real sockets: the proxy learns the tools' `x-mcp-header` annotations from the
 * `tools/list` answers it forwards (JSON or SSE, before policy filtering) and then refuses a modern
 * `tools/call` whose mirrored headers disagree with its arguments, before the policy decision.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { type Harness, startHarness } from './helpers/harness.ts';

const V = '2026-07-28';
const meta = {
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientCapabilities': {},
};

const schema = (header: string) => ({
  type: 'object',
  properties: {
    region: { type: 'string', 'x-mcp-header': header },
    ctx: { type: 'object', properties: { count: { type: 'integer', 'x-mcp-header': 'Count' } } },
    query: { type: 'string' },
  },
});

describe('Mcp-Param-* headers checked against learned x-mcp-header annotations', () => {
  let upstream: Server;
  let h: Harness;
  const calls: string[] = [];
  // What the upstream answers tools/list with, and how.
  let header = 'Region';
  let sse = false;

  before(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => {
        body += d.toString();
      });
      req.on('end', () => {
        const msg = JSON.parse(body) as { id: number; method: string; params?: { name?: string } };
        if (msg.method === 'tools/call') calls.push(msg.params?.name ?? '');
        const result =
          msg.method === 'tools/list'
            ? {
                tools: [
                  { name: 'sql', inputSchema: schema(header) },
                  { name: 'admin_sql', inputSchema: schema(header) },
                ],
              }
            : { content: [] };
        const answer = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result });
        if (sse && msg.method === 'tools/list') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          const progress = { jsonrpc: '2.0', method: 'notifications/message', params: { data: 'listing' } };
          res.write(`data: ${JSON.stringify(progress)}\n\n`);
          res.end(`event: message\ndata: ${answer}\n\n`);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(answer);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const { port } = upstream.address() as AddressInfo;
    h = await startHarness({
      upstream: createHttpUpstream({ url: new URL(`http://127.0.0.1:${port}/mcp`), log: () => {} }),
      policy: { rules: [{ id: 'no-admin', effect: 'DENY', targets: ['admin_*'] }] },
    });
  });

  after(async () => {
    await h.close();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  async function post(method: string, params: Record<string, unknown>, headers: Record<string, string> = {}) {
    const name = typeof params.name === 'string' ? { 'mcp-name': params.name } : {};
    const res = await fetch(`${h.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await h.token()}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': V,
        'mcp-method': method,
        ...name,
        ...headers,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params: { ...params, _meta: meta } }),
    });
    const text = await res.text();
    return { status: res.status, text, body: text.startsWith('{') ? JSON.parse(text) : undefined };
  }
  const call = (name: string, args: Record<string, unknown>, headers: Record<string, string>) =>
    post('tools/call', { name, arguments: args }, headers);

  async function refused(name: string, args: Record<string, unknown>, headers: Record<string, string>) {
    const before = calls.length;
    const res = await call(name, args, headers);
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.error.code, -32020);
    assert.equal(res.body.id, 7);
    assert.equal(calls.length, before, 'a refused call never reaches the upstream');
    return res.body.error.message as string;
  }

  test('before any tools/list the proxy cannot know the annotations and forwards', async () => {
    const res = await call('sql', { region: 'us' }, { 'mcp-param-region': 'eu' });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(calls, ['sql']);
  });

  test('after a JSON tools/list, matching headers pass and mismatches are refused', async () => {
    const list = await post('tools/list', {});
    assert.equal(list.status, 200);
    assert.deepEqual(
      list.body.result.tools.map((t: { name: string }) => t.name),
      ['sql'],
      'the caller sees the policy-filtered list',
    );

    const ok = await call(
      'sql',
      { region: 'us', ctx: { count: 42 } },
      { 'mcp-param-region': 'us', 'mcp-param-count': '42.0' },
    );
    assert.equal(ok.status, 200, ok.text);
    assert.equal(calls.at(-1), 'sql');
    const noArgs = await call('sql', { query: 'x' }, {});
    assert.equal(noArgs.status, 200, 'absent arguments need no headers');

    assert.match(await refused('sql', { region: 'us' }, { 'mcp-param-region': 'eu' }), /Mcp-Param-region/);
    assert.match(await refused('sql', { region: 'us' }, {}), /Mcp-Param-region is required/);
    assert.match(await refused('sql', {}, { 'mcp-param-region': 'us' }), /argument is absent/);
    assert.match(
      await refused('sql', { ctx: { count: 42 } }, { 'mcp-param-count': '43' }),
      /Mcp-Param-count/,
    );
    const audited = h.audit.at(-1)!;
    assert.equal(audited.errorCode, -32020);
    assert.equal(audited.target, 'sql');
  });

  test('annotations are learned from the unfiltered list and checked before the policy decision', async () => {
    await refused('admin_sql', { region: 'us' }, { 'mcp-param-region': 'eu' });
    const denied = await call('admin_sql', { region: 'us' }, { 'mcp-param-region': 'us' });
    assert.equal(denied.status, 403, denied.text);
  });

  test('an SSE tools/list answer teaches the new annotations', async () => {
    header = 'Zone';
    sse = true;
    const list = await post('tools/list', {});
    assert.equal(list.status, 200);
    assert.match(list.text, /"x-mcp-header":"Zone"/);
    assert.match(
      await refused('sql', { region: 'us' }, { 'mcp-param-region': 'us' }),
      /Mcp-Param-zone is required/,
    );
    const ok = await call('sql', { region: 'us' }, { 'mcp-param-zone': 'us' });
    assert.equal(ok.status, 200, ok.text);
  });
});
