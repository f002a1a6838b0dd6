/**
 * Checklist tests that no other file had, for the "Transport: common" items of
 * `../shared/reference/mcp-gateway-requirements.md` (see `README.md` beside this file): the
 * Origin refusal's body, requests without an Origin, the content types of answers, 202 for accepted
 * notifications and responses, SSE comments from the upstream, collision-free ids on a shared stdio
 * channel, and header names in any case. Real sockets, a real proxy listener, a `node:http` upstream
 * and the scripted stdio fixture.
 *
 * Requests go out through `node:http` rather than fetch: it sends no `Origin` and keeps the case of
 * header names as written, which two of these tests depend on.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHttpUpstream } from '../../src/upstream/http-upstream.ts';
import { createStdioUpstream } from '../../src/upstream/stdio-upstream.ts';
import { FIXTURE, waitFor } from '../fixtures/stdio-harness.ts';
import { type Harness, startHarness } from '../helpers/harness.ts';
import { ACCEPT_BOTH } from '../helpers/harness-post.ts';
import { MODERN, modernCall } from '../helpers/modern-client.ts';

const HANG_GUARD = { timeout: 30_000 };

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
}

/** POSTs `body` to the proxy's `/mcp` with exactly `headers` (names sent in the case given). */
function send(h: Harness, body: unknown, headers: Record<string, string>): Promise<Answer> {
  const { port } = new URL(h.url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/mcp', headers, agent: false },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

/** The headers of a legacy Streamable HTTP POST with a valid token, and nothing else. */
async function basic(h: Harness, more: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    Authorization: `Bearer ${await h.token()}`,
    'Content-Type': 'application/json',
    Accept: ACCEPT_BOTH,
    ...more,
  };
}

/** The data of each event of an SSE body, parsed; comment-only blocks are skipped. */
function sseMessages(text: string): Record<string, unknown>[] {
  return text
    .split('\n\n')
    .map((block) =>
      block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(l[5] === ' ' ? 6 : 5))
        .join('\n'),
    )
    .filter((data) => data !== '')
    .map((data) => JSON.parse(data) as Record<string, unknown>);
}

const TOOLS = [{ name: 'search' }, { name: 'delete_repo' }];
const progress = JSON.stringify({
  jsonrpc: '2.0',
  method: 'notifications/progress',
  params: { progressToken: 'p', progress: 1 },
});

describe('through a controllable HTTP upstream', () => {
  let upstream: Server;
  let h: Harness;
  /** Every request the upstream received. */
  const seen: { headers: IncomingHttpHeaders; body: Record<string, unknown> }[] = [];
  /** The exact bytes of every SSE body the upstream sent, by request id. */
  const sent = new Map<unknown, string>();

  before(async () => {
    upstream = createServer((req, res) => {
      let raw = '';
      req.setEncoding('utf8').on('data', (d: string) => {
        raw += d;
      });
      req.on('end', () => {
        const msg = JSON.parse(raw || '{}') as Record<string, unknown>;
        seen.push({ headers: req.headers, body: msg });
        if (msg.method === 'initialize') {
          res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'sess-1' });
          res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: {} }));
          return;
        }
        // A notification or a client's response: accepted, no body (spec §Sending Messages to the Server).
        if (!('method' in msg) || !('id' in msg)) {
          res.writeHead(202).end();
          return;
        }
        const result = msg.method === 'tools/list' ? { tools: TOOLS } : { echo: msg.params ?? null };
        const answer = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result });
        if (String(msg.id).startsWith('sse-')) {
          // Comments before, between and inside events, as keep-alives and servers' notes are sent.
          const body =
            ': keep-alive\n\n' +
            `event: message\ndata: ${progress}\n\n` +
            ': still working\n' +
            `event: message\nid: 7\ndata: ${answer}\n\n` +
            ':\n\n';
          sent.set(msg.id, body);
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.end(body);
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    h = await startHarness({
      upstream: createHttpUpstream({
        url: new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`),
        log: () => {},
      }),
      // A list rule, so that a tools/list answer is visibly rewritten on its way through.
      policy: { rules: [{ id: 'no-delete', effect: 'DENY', targets: ['delete_*'] }] },
    });
  });

  after(async () => {
    await h?.close();
    upstream?.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  /** Opens a legacy session through the proxy and returns its id. */
  async function initialize(): Promise<string> {
    const init = await send(
      h,
      { jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-11-25' } },
      await basic(h),
    );
    assert.equal(init.status, 200);
    return String(init.headers['mcp-session-id']);
  }

  test('a foreign browser Origin gets 403 whose JSON-RPC error has no id, and nothing is forwarded', async () => {
    seen.length = 0;
    const res = await send(
      h,
      { jsonrpc: '2.0', id: 5, method: 'tools/list' },
      await basic(h, { Origin: 'http://evil.example.com' }),
    );
    assert.equal(res.status, 403);
    assert.equal(res.headers['content-type'], 'application/json');
    const body = JSON.parse(res.text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['error', 'jsonrpc'], 'no "id", not even the request’s');
    assert.equal(body.jsonrpc, '2.0');
    const error = body.error as { code: number; message: string };
    assert.equal(error.code, -32600);
    assert.match(error.message, /Origin http:\/\/evil\.example\.com is not allowed/);
    assert.equal(seen.length, 0, 'nothing reached the upstream');
    assert.equal(h.audit.at(-1)!.httpStatus, 403);
    assert.equal(h.audit.at(-1)!.outcome, 'invalid');
  });

  test('a POST without Origin, as non-browser clients send it, passes the Origin check and is forwarded', async () => {
    seen.length = 0;
    const headers = await basic(h);
    assert.equal(
      Object.keys(headers).some((n) => n.toLowerCase() === 'origin'),
      false,
    );
    const res = await send(
      h,
      { jsonrpc: '2.0', id: 6, method: 'tools/call', params: { name: 'a' } },
      headers,
    );
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.text), { jsonrpc: '2.0', id: 6, result: { echo: { name: 'a' } } });
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.body.id, 6);
    assert.equal(h.audit.at(-1)!.outcome, 'ok');
  });

  test('a request is answered with one JSON object as application/json, or with text/event-stream, as the upstream chose', async () => {
    const json = await send(
      h,
      { jsonrpc: '2.0', id: 11, method: 'tools/call', params: { name: 'a' } },
      await basic(h),
    );
    assert.equal(json.status, 200);
    assert.equal(json.headers['content-type'], 'application/json');
    const one = JSON.parse(json.text) as unknown;
    assert.ok(typeof one === 'object' && one !== null && !Array.isArray(one), 'a single JSON object');
    assert.equal((one as { id: unknown }).id, 11);

    const sse = await send(
      h,
      { jsonrpc: '2.0', id: 'sse-12', method: 'tools/call', params: { name: 'a' } },
      await basic(h),
    );
    assert.equal(sse.status, 200);
    assert.equal(sse.headers['content-type'], 'text/event-stream');
    const messages = sseMessages(sse.text);
    assert.deepEqual(
      messages.map((m) => m.method ?? `response:${m.id}`),
      ['notifications/progress', 'response:sse-12'],
    );
  });

  test('accepted notifications and responses get 202 with an empty body; refused ones get a 4xx and are not forwarded', async () => {
    const session = await initialize();
    seen.length = 0;
    const notification = await send(
      h,
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      await basic(h, { 'mcp-session-id': session }),
    );
    assert.equal(notification.status, 202);
    assert.equal(notification.text, '');
    const response = await send(
      h,
      { jsonrpc: '2.0', id: 'srv-1', result: { roots: [] } },
      await basic(h, { 'mcp-session-id': session }),
    );
    assert.equal(response.status, 202);
    assert.equal(response.text, '');
    assert.deepEqual(
      seen.map((s) => s.body.method ?? `response:${s.body.id}`),
      ['notifications/initialized', 'response:srv-1'],
    );

    seen.length = 0;
    const unknownSession = await send(
      h,
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      await basic(h, { 'mcp-session-id': 'made-up' }),
    );
    assert.equal(unknownSession.status, 404);
    // A modern POST may not carry a response (2026-07-28 §Sending Messages to the Server).
    const modernResponse = await send(
      h,
      { jsonrpc: '2.0', id: 'srv-2', result: {} },
      await basic(h, { 'mcp-protocol-version': MODERN }),
    );
    assert.equal(modernResponse.status, 400);
    assert.equal((JSON.parse(modernResponse.text) as { error: { code: number } }).error.code, -32600);
    assert.equal(seen.length, 0, 'nothing refused reached the upstream');
  });

  test('SSE comment lines from the upstream reach the client around a rewritten list answer and a relayed call answer, never read as malformed', async () => {
    // tools/call: relayed untouched, byte for byte.
    const call = await send(
      h,
      { jsonrpc: '2.0', id: 'sse-call', method: 'tools/call', params: { name: 'a' } },
      await basic(h),
    );
    assert.equal(call.status, 200);
    assert.equal(call.text, sent.get('sse-call'));
    assert.equal(h.audit.at(-1)!.outcome, 'ok');
    assert.equal(h.audit.at(-1)!.errorCode, 0);

    // tools/list: the answer event goes through the list filter; the comments stay where they were.
    const list = await send(h, { jsonrpc: '2.0', id: 'sse-list', method: 'tools/list' }, await basic(h));
    assert.equal(list.status, 200);
    assert.equal(list.headers['content-type'], 'text/event-stream');
    assert.ok(list.text.startsWith(': keep-alive\n\n'), list.text);
    assert.match(list.text, /\n\n: still working\nevent: message\nid: 7\ndata: /);
    assert.ok(list.text.endsWith('\n\n:\n\n'), list.text);
    const messages = sseMessages(list.text);
    assert.equal(messages.length, 2);
    const answer = messages[1] as { id: unknown; result?: { tools: { name: string }[] }; error?: unknown };
    assert.equal(answer.error, undefined, 'not replaced by a "could not be filtered" error');
    assert.equal(answer.id, 'sse-list');
    assert.deepEqual(
      answer.result?.tools.map((t) => t.name),
      ['search'],
      'the rewrite ran on the answer event',
    );
    assert.equal(h.audit.at(-1)!.outcome, 'ok');
    assert.equal(h.audit.at(-1)!.errorCode, 0);
  });

  test('header names are matched whatever their case: MCP-Protocol-Version, Mcp-Method, Mcp-Name, Mcp-Session-Id', async () => {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': MODERN,
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const call = { jsonrpc: '2.0', id: 21, method: 'tools/call', params: { name: 'echo', _meta: meta } };

    // Modern: the mixed-case metadata headers are read (a mismatch is caught) and forwarded.
    seen.length = 0;
    const ok = await send(
      h,
      call,
      await basic(h, { 'MCP-PROTOCOL-VERSION': MODERN, 'mCp-MeThOd': 'tools/call', 'MCP-NAME': 'echo' }),
    );
    assert.equal(ok.status, 200, ok.text);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers['mcp-protocol-version'], MODERN);
    assert.equal(seen[0]!.headers['mcp-method'], 'tools/call');
    assert.equal(seen[0]!.headers['mcp-name'], 'echo');
    seen.length = 0;
    const mismatch = await send(
      h,
      call,
      await basic(h, { 'Mcp-Protocol-Version': MODERN, 'MCP-METHOD': 'tools/list', 'mcp-NAME': 'echo' }),
    );
    assert.equal(mismatch.status, 400);
    assert.equal((JSON.parse(mismatch.text) as { error: { code: number } }).error.code, -32020);
    const missing = await send(h, call, await basic(h, { 'MCP-Protocol-Version': MODERN }));
    assert.equal(missing.status, 400, 'without Mcp-Method in any case the request is refused');
    assert.equal(seen.length, 0);

    // Legacy: a session id is recognised in any case, an unknown one is refused in any case.
    const session = await initialize();
    seen.length = 0;
    const known = await send(
      h,
      { jsonrpc: '2.0', id: 22, method: 'tools/list' },
      await basic(h, { 'MCP-SESSION-ID': session, 'Mcp-Protocol-Version': '2025-11-25' }),
    );
    assert.equal(known.status, 200);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers['mcp-session-id'], session);
    seen.length = 0;
    const unknown = await send(
      h,
      { jsonrpc: '2.0', id: 23, method: 'tools/list' },
      await basic(h, { 'mCp-SeSsIoN-iD': 'made-up' }),
    );
    assert.equal(unknown.status, 404);
    assert.equal(seen.length, 0);
  });

  test('traceparent, tracestate and baggage in _meta reach the upstream unchanged', async () => {
    const trace = {
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      tracestate: 'vendor=abc',
      baggage: 'tenant=acme',
    };
    seen.length = 0;
    const res = await send(
      h,
      { jsonrpc: '2.0', id: 31, method: 'tools/call', params: { name: 'a', _meta: trace } },
      await basic(h),
    );
    assert.equal(res.status, 200);
    assert.deepEqual((seen[0]!.body.params as { _meta: unknown })._meta, trace);
  });
});

describe('through a stdio server (the scripted fixture)', () => {
  test(
    'concurrent requests with the same id on one warm stdio channel go upstream under distinct ids, and each answer keeps the client’s id',
    HANG_GUARD,
    async () => {
      const stderr: string[] = [];
      const h = await startHarness({
        upstream: createStdioUpstream({
          command: process.execPath,
          args: [FIXTURE],
          // One warm channel per principal: every request below shares it.
          statelessPerPrincipal: 1,
          log: (_level, msg, fields) => {
            if (msg === 'MCP server stderr') stderr.push(String(fields?.line));
          },
        }),
      });
      const abort = new AbortController();
      try {
        const url = `${h.url}/mcp`;
        const token = await h.token();
        const pid = (await modernCall(url, token, 1, 'fixture/pid')).answer.result?.pid;
        assert.equal(typeof pid, 'number');
        // Three requests with the client id 1, all in flight on the same child at once.
        const hanging = [1, 2, 3].map(() =>
          modernCall(url, token, 1, 'fixture/hang', {}, { signal: abort.signal }).catch(() => undefined),
        );
        const ids = () => stderr.filter((l) => l.startsWith('hanging on ')).map((l) => l.slice(11));
        await waitFor(() => ids().length === 3, 'the three requests to reach the child');
        assert.equal(new Set(ids()).size, 3, `distinct upstream ids: ${ids().join(', ')}`);
        for (const id of ids()) assert.notEqual(JSON.parse(id), 1, 'the client’s id is not reused upstream');
        // While they are in flight, a fourth request with the same id gets its own answer and the client's id.
        const echo = await modernCall(url, token, 1, 'fixture/echo', { x: 'mine' });
        assert.equal(echo.answer.id, 1);
        assert.deepEqual(echo.answer.result?.params, { x: 'mine' });
        assert.equal(
          (await modernCall(url, token, 2, 'fixture/pid')).answer.result?.pid,
          pid,
          'all on the one warm child',
        );
        abort.abort();
        await Promise.all(hanging);
      } finally {
        abort.abort();
        await h.close();
      }
    },
  );

  test(
    'the proxy’s own answers are one JSON object as application/json, or text/event-stream when progress streams; a notification gets 202 and no body',
    HANG_GUARD,
    async () => {
      const h = await startHarness({
        upstream: createStdioUpstream({ command: process.execPath, args: [FIXTURE] }),
      });
      try {
        const url = `${h.url}/mcp`;
        const token = await h.token();
        const echo = await modernCall(url, token, 'e', 'fixture/echo', { a: 1 });
        assert.equal(echo.status, 200);
        assert.equal(echo.contentType, 'application/json');
        assert.equal(echo.messages.length, 1);
        assert.equal(echo.answer.id, 'e');
        const streamed = await modernCall(url, token, 'p', 'fixture/progress', {
          _meta: { progressToken: 't' },
        });
        assert.equal(streamed.status, 200);
        assert.equal(streamed.contentType, 'text/event-stream');
        assert.deepEqual(
          streamed.messages.map((m) => m.method ?? `response:${m.id}`),
          ['notifications/progress', 'notifications/progress', 'response:p'],
        );
        const notification = await send(
          h,
          {
            jsonrpc: '2.0',
            method: 'notifications/progress',
            params: {
              progressToken: 'x',
              progress: 1,
              _meta: {
                'io.modelcontextprotocol/protocolVersion': MODERN,
                'io.modelcontextprotocol/clientCapabilities': {},
              },
            },
          },
          await basic(h, { 'mcp-protocol-version': MODERN, 'mcp-method': 'notifications/progress' }),
        );
        assert.equal(notification.status, 202);
        assert.equal(notification.text, '');
        assert.equal(notification.headers['content-length'] ?? '0', '0');
      } finally {
        await h.close();
      }
    },
  );
});
