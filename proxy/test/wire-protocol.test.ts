/**
 * The proxy's wire protocol on real sockets, against a controllable upstream: legacy sessions (bound to
 * their principal, 404 when unknown even when the upstream says 400) and the modern era's header rules.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { type Harness, RESOURCE, startHarness } from './helpers/harness.ts';

const V = '2026-07-28';
const meta = {
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientCapabilities': {},
};

describe('wire protocol through the proxy', () => {
  let upstream: Server;
  let h: Harness;
  const seen: { headers: IncomingMessage['headers']; body: string }[] = [];
  const live = new Set<string>();
  let n = 0;

  before(async () => {
    upstream = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => {
        body += d.toString();
      });
      req.on('end', () => {
        seen.push({ headers: req.headers, body });
        const sid = req.headers['mcp-session-id'] as string | undefined;
        const msg = JSON.parse(body || '{}') as {
          id?: number;
          method?: string;
          params?: { type?: unknown; sse?: boolean };
        };
        if (msg.method === 'typed' && msg.params?.type === 'big') {
          // Over the proxy's 1 MiB check, in chunks without a Content-Length.
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write(`{"jsonrpc":"2.0","id":${msg.id},"result":{"resultType":"complete","pad":"`);
          for (let i = 0; i < 4; i++) res.write('x'.repeat(512 * 1024));
          res.end('"}}');
          return;
        }
        if (msg.method === 'typed' && msg.params?.sse) {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(
            `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } })}\n\n`,
          );
          res.end(
            `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { resultType: msg.params.type } })}\n\n`,
          );
          return;
        }
        if (msg.method === 'typed') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { resultType: msg.params?.type, n: 1 } }),
          );
          return;
        }
        if (req.method === 'DELETE') {
          if (sid) live.delete(sid);
          res.writeHead(200).end();
          return;
        }
        if (msg.method === 'initialize') {
          const id = `s-${++n}`;
          live.add(id);
          res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': id });
          res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: {} }));
          return;
        }
        if (sid && !live.has(sid)) {
          // Like several servers in the wild: 400, not the 404 the spec asks for.
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({
              jsonrpc: '2.0',
              error: { code: -32000, message: 'Bad Request: No valid session ID provided' },
            }),
          );
          return;
        }
        if (msg.method === 'bad') {
          res.writeHead(400, { 'content-type': 'application/json' });
          res.end(
            JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32602, message: 'bad arguments' } }),
          );
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { ok: true } }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const { port } = upstream.address() as AddressInfo;
    h = await startHarness({
      upstream: createHttpUpstream({ url: new URL(`http://127.0.0.1:${port}/mcp`), log: () => {} }),
    });
  });

  after(async () => {
    await h.close();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  async function send(
    body: unknown,
    headers: Record<string, string> = {},
    token?: string,
    method = 'POST',
  ): Promise<Response> {
    return fetch(`${h.url}/mcp`, {
      method,
      headers: {
        authorization: `Bearer ${token ?? (await h.token())}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: method === 'POST' ? JSON.stringify(body) : undefined,
    });
  }
  const rpc = (method: string, params?: Record<string, unknown>, id = 1) => ({
    jsonrpc: '2.0',
    id,
    method,
    params,
  });

  test('a session the proxy never saw answers 404 and never reaches the upstream', async () => {
    seen.length = 0;
    const res = await send(rpc('tools/list'), { 'mcp-session-id': 'made-up' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { id: number }).id, 1);
    assert.equal(seen.length, 0);
  });

  test("another principal's session answers 404", async () => {
    const sid = (await send(rpc('initialize'))).headers.get('mcp-session-id')!;
    const bob = await h.token({ sub: 'user-2', email: 'alice@example.com' });
    assert.equal((await send(rpc('tools/list'), { 'mcp-session-id': sid }, bob)).status, 404);
    assert.equal((await send(rpc('tools/list'), { 'mcp-session-id': sid })).status, 200);
  });

  test('an upstream that lost the session and says 400 is answered 404, and the session is forgotten', async () => {
    const sid = (await send(rpc('initialize'))).headers.get('mcp-session-id')!;
    live.delete(sid); // the upstream restarts
    const res = await send(rpc('tools/list'), { 'mcp-session-id': sid });
    assert.equal(res.status, 404);
    seen.length = 0;
    assert.equal((await send(rpc('tools/list'), { 'mcp-session-id': sid })).status, 404);
    assert.equal(seen.length, 0, 'a forgotten session is refused by the proxy itself');
  });

  test('a 400 that is not about the session passes through unchanged', async () => {
    const sid = (await send(rpc('initialize'))).headers.get('mcp-session-id')!;
    const res = await send(rpc('bad'), { 'mcp-session-id': sid });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32602);
  });

  test('DELETE ends the session for the proxy too', async () => {
    const sid = (await send(rpc('initialize'))).headers.get('mcp-session-id')!;
    assert.equal((await send(undefined, { 'mcp-session-id': sid }, undefined, 'DELETE')).status, 200);
    seen.length = 0;
    assert.equal((await send(rpc('tools/list'), { 'mcp-session-id': sid })).status, 404);
    assert.equal(seen.length, 0);
  });

  test('a modern answer whose resultType 2026-07-28 does not define is refused, never passed on as success', async () => {
    const typed = (type: unknown) =>
      send(rpc('typed', { type, _meta: meta }, 4), { 'mcp-protocol-version': V, 'mcp-method': 'typed' });
    for (const type of ['bogus', 7]) {
      const res = await typed(type);
      assert.equal(res.status, 502, String(type));
      const body = (await res.json()) as { id: number; error: { code: number; message: string } };
      assert.equal(body.id, 4);
      assert.equal(body.error.code, -31004);
      assert.match(body.error.message, /resultType .* which 2026-07-28 does not define/);
    }
    for (const type of ['complete', 'input_required']) {
      const res = await typed(type);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { jsonrpc: '2.0', id: 4, result: { resultType: type, n: 1 } });
    }
    // Streamed as SSE: the notifications pass, and the answer's event is checked as it passes.
    const streamed = async (type: string) => {
      const res = await send(rpc('typed', { type, sse: true, _meta: meta }, 6), {
        'mcp-protocol-version': V,
        'mcp-method': 'typed',
      });
      assert.equal(res.status, 200);
      const text = await res.text();
      return text
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
    };
    const [progress, refused] = await streamed('bogus');
    assert.equal(progress!.method, 'notifications/progress');
    assert.equal((refused!.error as { code: number }).code, -31004);
    assert.equal(refused!.id, 6);
    assert.deepEqual((await streamed('complete'))[1], {
      jsonrpc: '2.0',
      id: 6,
      result: { resultType: 'complete' },
    });
    // An answer too large to hold streams on unchecked, whole.
    const big = await typed('big');
    assert.equal(big.status, 200);
    const result = ((await big.json()) as { result: { pad: string } }).result;
    assert.equal(result.pad.length, 2 * 1024 * 1024);
    // The legacy wire has no resultType: what the server says passes as it is.
    const legacy = await send(rpc('typed', { type: 'bogus' }, 5));
    assert.equal(legacy.status, 200);
  });

  test('a modern request is forwarded with its metadata headers and without legacy ones', async () => {
    seen.length = 0;
    const res = await send(rpc('tools/call', { name: 'echo', arguments: { region: 'eu' }, _meta: meta }), {
      'mcp-protocol-version': V,
      'mcp-method': 'tools/call',
      'mcp-name': 'echo',
      'mcp-param-region': 'eu',
      'mcp-session-id': 'stray',
      'last-event-id': '5',
    });
    assert.equal(res.status, 200);
    const got = seen[0]!.headers;
    assert.equal(got['mcp-method'], 'tools/call');
    assert.equal(got['mcp-name'], 'echo');
    assert.equal(got['mcp-param-region'], 'eu');
    assert.equal(got['mcp-session-id'], undefined);
    assert.equal(got['last-event-id'], undefined);
  });

  test('modern header mismatches answer 400 with -32020 and never reach the upstream', async () => {
    seen.length = 0;
    const cases: Record<string, string>[] = [
      { 'mcp-protocol-version': V },
      { 'mcp-protocol-version': V, 'mcp-method': 'tools/list' },
      { 'mcp-protocol-version': V, 'mcp-method': 'tools/call', 'mcp-name': 'other' },
      { 'mcp-protocol-version': V, 'mcp-method': 'tools/call', 'mcp-name': '=?base64?!!?=' },
      { 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
    ];
    for (const headers of cases) {
      const res = await send(rpc('tools/call', { name: 'echo', _meta: meta }, 9), headers);
      assert.equal(res.status, 400, JSON.stringify(headers));
      const body = (await res.json()) as { id: number; error: { code: number; message: string } };
      assert.equal(body.id, 9);
      assert.equal(body.error.code, -32020, body.error.message);
    }
    assert.equal(seen.length, 0);
    const audited = h.audit.at(-1)!;
    assert.equal(audited.outcome, 'invalid');
    assert.equal(audited.errorCode, -32020);
  });

  test('a modern header without the _meta envelope answers 400 with -32602', async () => {
    const res = await send(rpc('tools/list'), { 'mcp-protocol-version': V, 'mcp-method': 'tools/list' });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32602);
  });

  test('GET and DELETE do not exist in the modern era: 405', async () => {
    for (const method of ['GET', 'DELETE']) {
      const res = await send(undefined, { 'mcp-protocol-version': V }, undefined, method);
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST');
    }
  });

  test('a foreign browser Origin answers 403 before anything else', async () => {
    seen.length = 0;
    const res = await send(rpc('initialize'), { origin: 'http://evil.example.com' });
    assert.equal(res.status, 403);
    assert.equal(seen.length, 0);
    assert.equal((await send(rpc('initialize'), { origin: 'http://localhost:3000' })).status, 200);
  });
});

describe('Host on a loopback listener (DNS rebinding)', () => {
  let upstream: Server;
  let h: Harness;
  let forwarded = 0;

  before(async () => {
    upstream = createServer((req, res) => {
      forwarded++;
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    h = await startHarness({
      upstream: createHttpUpstream({
        url: new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`),
        log: () => {},
      }),
      listenHost: '127.0.0.1',
      allowedHosts: ['dev.internal'],
    });
  });

  after(async () => {
    await h?.close();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  /** A POST with this Host header (fetch may not set one; node:http may). */
  async function withHost(host: string): Promise<{ status: number; body: string }> {
    const token = await h.token();
    const url = new URL(`${h.url}/mcp`);
    return new Promise((resolve, reject) => {
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: {
            host,
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
        },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (d: string) => {
            body += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    });
  }

  test('a rebound name in Host gets 403 with a JSON-RPC error and is not forwarded', async () => {
    forwarded = 0;
    for (const host of [
      'evil.example.com',
      `evil.example.com:${new URL(h.url).port}`,
      'localhost.evil.example.com',
    ]) {
      const res = await withHost(host);
      assert.equal(res.status, 403, host);
      const body = JSON.parse(res.body) as { id?: unknown; error: { code: number; message: string } };
      assert.equal(body.error.code, -32600);
      assert.match(body.error.message, /Host .* is not allowed/);
    }
    assert.equal(forwarded, 0);
    assert.equal(h.audit.at(-1)!.outcome, 'invalid');
  });

  test('loopback names, the resource URI host and listed names pass', async () => {
    forwarded = 0;
    const port = new URL(h.url).port;
    const resourceHost = new URL(RESOURCE).host;
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, resourceHost, `dev.internal:${port}`]) {
      assert.equal((await withHost(host)).status, 200, host);
    }
    assert.equal(forwarded, 4);
  });
});
