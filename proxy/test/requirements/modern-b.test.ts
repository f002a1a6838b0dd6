/**
 * Checklist tests that no other file had, for the modern (2026-07-28) transport items 31–45 of
 * `../shared/reference/mcp-gateway-requirements.md` (see `README.md` beside this file): stray legacy headers on
 * modern requests, both eras on one endpoint, what a warm stdio channel's server may and may not put on
 * a modern response stream, cancellation once that stream has begun, MRTR results and retries through
 * a sidecar, and a modern-only upstream's answer to a legacy `initialize`. Real sockets, real child
 * processes and real HTTP upstreams throughout.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import { createHttpUpstream } from '../../src/upstream/http-upstream.ts';
import { createStdioUpstream } from '../../src/upstream/stdio-upstream.ts';
import { FIXTURE, type LogEntry, sseEvents, waitFor } from '../fixtures/stdio-harness.ts';
import { type Harness, startHarness } from '../helpers/harness.ts';
import { legacyInitialize } from '../helpers/legacy-initialize.ts';
import { MODERN, modernCall } from '../helpers/modern-client.ts';

const HANG_GUARD = { timeout: 60_000 };
const noLog = () => {};

/** The `_meta` envelope of a modern request. */
const envelope = {
  'io.modelcontextprotocol/protocolVersion': MODERN,
  'io.modelcontextprotocol/clientCapabilities': {},
};

/**
 * POSTs one modern request with its metadata headers plus `extra`, and returns the status, the headers
 * and the body text exactly as received.
 */
async function modernPost(
  url: string,
  token: string,
  message: { id: number | string; method: string; params?: Record<string, unknown> },
  extra: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; text: string }> {
  const params: Record<string, unknown> = {
    ...message.params,
    _meta: { ...envelope, ...(message.params?._meta as object) },
  };
  const name = message.method === 'resources/read' ? params.uri : params.name;
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': MODERN,
      'mcp-method': message.method,
      ...(typeof name === 'string' ? { 'mcp-name': name } : {}),
      ...extra,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: message.id, method: message.method, params }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A legacy (2025-11-25) POST, with a session when given. */
async function legacyPost(
  url: string,
  token: string,
  message: { id: number | string; method: string; params?: Record<string, unknown> },
  session?: string,
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(session ? { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' } : {}),
    },
    body: JSON.stringify({ jsonrpc: '2.0', ...message }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

describe('one endpoint, both eras, in front of the scripted stdio fixture', () => {
  let h: Harness;
  let url: string;

  before(async () => {
    h = await startHarness({
      upstream: createStdioUpstream({ command: process.execPath, args: [FIXTURE], statelessPerPrincipal: 1 }),
    });
    url = `${h.url}/mcp`;
  });
  after(() => h?.close());

  const pidOf = (text: string) => (JSON.parse(text) as { result: { pid: number } }).result.pid;

  test(
    'one endpoint serves a modern request statelessly and starts a legacy session on initialize',
    HANG_GUARD,
    async () => {
      const token = await h.token();
      const modern = await modernPost(url, token, { id: 'm1', method: 'fixture/pid' });
      assert.equal(modern.status, 200);
      assert.equal(modern.headers.get('mcp-session-id'), null, 'a modern answer opens no session');
      const warmPid = pidOf(modern.text);
      assert.equal(typeof warmPid, 'number');

      const init = await legacyPost(url, token, legacyInitialize(0));
      assert.equal(init.status, 200);
      const session = init.headers.get('mcp-session-id');
      assert.ok(session, 'initialize on the same endpoint starts a session');
      const legacy = await legacyPost(url, token, { id: 'l1', method: 'fixture/pid' }, session);
      assert.equal(legacy.status, 200);
      const sessionPid = (legacy.body.result as { pid: number }).pid;
      assert.notEqual(sessionPid, warmPid, 'the session has its own child, apart from the stateless one');

      const again = await modernPost(url, token, { id: 'm2', method: 'fixture/pid' });
      assert.equal(pidOf(again.text), warmPid, 'modern requests keep using the warm child');
      const audited = (id: string) => h.audit.find((a) => a.requestId === JSON.stringify(id));
      assert.equal(audited('m1')?.sessionId, '');
      assert.equal(audited('m1')?.era, MODERN);
      assert.equal(audited('l1')?.sessionId, session);
    },
  );

  test(
    'a modern request carrying Mcp-Session-Id and Last-Event-ID is served statelessly, and no Mcp-Session-Id comes back',
    HANG_GUARD,
    async () => {
      const token = await h.token();
      const warmPid = pidOf((await modernPost(url, token, { id: 1, method: 'fixture/pid' })).text);
      const session = (await legacyPost(url, token, legacyInitialize(0))).headers.get('mcp-session-id')!;
      const sessionPid = (
        (await legacyPost(url, token, { id: 2, method: 'fixture/pid' }, session)).body.result as {
          pid: number;
        }
      ).pid;

      // A live session's id: a modern request must not be routed into that session.
      const stray = await modernPost(
        url,
        token,
        { id: 3, method: 'fixture/pid' },
        { 'mcp-session-id': session, 'last-event-id': '7' },
      );
      assert.equal(stray.status, 200);
      assert.equal(pidOf(stray.text), warmPid, 'served by the warm child, not the session');
      assert.notEqual(pidOf(stray.text), sessionPid);
      assert.equal(stray.headers.get('mcp-session-id'), null, 'the session id is not echoed');

      // An id nobody issued: a legacy request would get 404; a modern one ignores it.
      const unknown = await modernPost(
        url,
        token,
        { id: 4, method: 'fixture/pid' },
        { 'mcp-session-id': 'no-such-session', 'last-event-id': '1' },
      );
      assert.equal(unknown.status, 200);
      assert.equal(pidOf(unknown.text), warmPid);
      assert.equal(unknown.headers.get('mcp-session-id'), null);
      const legacyUnknown = await legacyPost(url, token, { id: 5, method: 'fixture/pid' }, 'no-such-session');
      assert.equal(legacyUnknown.status, 404, 'the same header on a legacy request is a session lookup');
      for (const id of ['3', '4']) {
        assert.equal(h.audit.find((a) => a.requestId === id)?.sessionId, '', `request ${id}`);
      }
    },
  );
});

/**
 * A session-bound stdio MCP server for the modern stream tests. `test/chatty` sends, while its request
 * is pending, progress, a server request, log messages at two levels and a list change, then answers.
 * `test/slow` sends one progress notification and never answers; after a cancellation it sends a late
 * progress notification and a late answer anyway. `test/received` lists every message received.
 */
const STDIO_SERVER = `
const received = [];
const write = (m) => process.stdout.write(JSON.stringify({ jsonrpc: '2.0', ...m }) + '\\n');
const progress = (progressToken, progress) =>
  write({ method: 'notifications/progress', params: { progressToken, progress, total: 2 } });
const slow = new Map();
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const msg = JSON.parse(line);
  received.push(msg);
  const token = msg.params && msg.params._meta && msg.params._meta.progressToken;
  switch (msg.method) {
    case 'initialize':
      return write({ id: msg.id, result: {
        protocolVersion: msg.params.protocolVersion,
        capabilities: { tools: {}, logging: {} },
        serverInfo: { name: 'inline-stdio', version: '1.0.0' },
      } });
    case 'test/chatty':
      progress(token, 1);
      write({ id: 'srv-1', method: 'sampling/createMessage', params: { messages: [], maxTokens: 1 } });
      write({ method: 'notifications/message', params: { level: 'debug', data: 'debug line' } });
      write({ method: 'notifications/message', params: { level: 'error', data: 'error line' } });
      write({ method: 'notifications/tools/list_changed' });
      progress(token, 2);
      return write({ id: msg.id, result: { done: true } });
    case 'test/slow':
      slow.set(msg.id, token);
      return progress(token, 1);
    case 'notifications/cancelled': {
      const id = msg.params.requestId;
      if (!slow.has(id)) return;
      progress(slow.get(id), 2);
      return write({ id, result: { late: true } });
    }
    case 'test/received':
      return write({ id: msg.id, result: { received } });
  }
});
`;

describe('modern response streams from a session-bound stdio server', () => {
  let h: Harness;
  let url: string;
  const logs: LogEntry[] = [];

  before(async () => {
    h = await startHarness({
      upstream: createStdioUpstream({
        command: process.execPath,
        args: ['-e', STDIO_SERVER],
        // One warm child, so every request of the principal reaches the same server.
        statelessPerPrincipal: 1,
        log: (level, msg, fields = {}) => logs.push({ level, msg, fields }),
      }),
    });
    url = `${h.url}/mcp`;
  });
  after(() => h?.close());

  type Received = { id?: unknown; method?: string; params?: Record<string, unknown>; error?: unknown };
  const received = async (token: string): Promise<Received[]> =>
    ((await modernCall(url, token, 'r', 'test/received')).answer.result as { received: Received[] }).received;

  test(
    'a server request sent while a modern request streams never appears on its SSE stream; the server gets an error for it',
    HANG_GUARD,
    async () => {
      const token = await h.token();
      const r = await modernCall(url, token, 'c1', 'test/chatty', { _meta: { progressToken: 'p1' } });
      assert.equal(r.status, 200);
      assert.equal(r.contentType, 'text/event-stream', 'the progress turned the answer into a stream');
      assert.deepEqual(
        r.messages.map((m) => m.method ?? `answer:${String(m.id)}`),
        ['notifications/progress', 'notifications/progress', 'answer:c1'],
        'only the request’s own progress and its answer',
      );
      for (const m of r.messages.slice(0, 2))
        assert.equal((m.params as { progressToken: unknown }).progressToken, 'p1');
      assert.deepEqual(r.answer.result?.done, true);
      // The server is not left waiting: the proxy answered its request with an error at once.
      const answer = (await received(token)).find((m) => m.id === 'srv-1' && m.method === undefined);
      assert.ok(answer?.error, 'the server request was answered with an error');
    },
  );

  test(
    'a modern request without a logLevel gets no notifications/message, and one with a logLevel none below it',
    HANG_GUARD,
    async () => {
      const token = await h.token();
      const severity = ['debug', 'info', 'notice', 'warning', 'error', 'critical', 'alert', 'emergency'];
      const quiet = await modernCall(url, token, 'q', 'test/chatty', { _meta: { progressToken: 'q' } });
      assert.equal(quiet.contentType, 'text/event-stream');
      assert.equal(quiet.answer.id, 'q');
      assert.deepEqual(
        quiet.messages.filter((m) => m.method === 'notifications/message'),
        [],
        'no logLevel: no log notification',
      );
      const leveled = await modernCall(url, token, 'l', 'test/chatty', {
        _meta: { progressToken: 'l', 'io.modelcontextprotocol/logLevel': 'error' },
      });
      assert.equal(leveled.answer.id, 'l');
      const below = leveled.messages.filter(
        (m) =>
          m.method === 'notifications/message' &&
          severity.indexOf((m.params as { level: string }).level) < severity.indexOf('error'),
      );
      assert.deepEqual(below, [], 'nothing below the requested level');
    },
  );

  test(
    'a client that closes a modern SSE stream cancels the request on the stdio server once, and the late answer goes nowhere',
    HANG_GUARD,
    async () => {
      const token = await h.token();
      const abort = new AbortController();
      const res = await fetch(url, {
        method: 'POST',
        signal: abort.signal,
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': MODERN,
          'mcp-method': 'test/slow',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 'slow',
          method: 'test/slow',
          params: { _meta: { ...envelope, progressToken: 'ps' } },
        }),
      });
      assert.equal(res.headers.get('content-type'), 'text/event-stream');
      const events = sseEvents(res);
      const first = (await events.next()).value!;
      assert.equal(JSON.parse(first.data).method, 'notifications/progress', 'the stream has begun');
      abort.abort();
      await events.return(undefined).catch(() => {});

      let seen: Received[] = [];
      await waitFor(async () => {
        seen = await received(token);
        return seen.some((m) => m.method === 'notifications/cancelled');
      }, 'the cancellation to reach the server');
      const upstreamId = seen.find((m) => m.method === 'test/slow')?.id;
      assert.match(String(upstreamId), /^tessera-/, 'the server knows the request by the proxy’s id');
      const cancels = seen.filter((m) => m.method === 'notifications/cancelled');
      assert.equal(cancels.length, 1, 'cancelled exactly once');
      assert.equal(cancels[0]!.params?.requestId, upstreamId);
      assert.equal(
        seen.filter((m) => m.id === upstreamId).length,
        1,
        'nothing else was sent to the server for that request',
      );
      // The server's late answer (sent after the cancellation, before the answer to test/received)
      // matches no request any more: dropped, not written to any client.
      assert.ok(
        logs.some(
          (l) => l.msg === 'response matches no pending request; dropped' && l.fields.id === upstreamId,
        ),
        'the late answer was dropped',
      );
      await waitFor(() => h.audit.some((a) => a.requestId === '"slow"'), 'the audit event');
      const audited = h.audit.find((a) => a.requestId === '"slow"')!;
      assert.equal(audited.httpStatus, 200);
      assert.match(audited.reason, /client/);
    },
  );
});

describe('MRTR through a sidecar', () => {
  let upstream: Server;
  let h: Harness;
  const seen: { headers: IncomingHttpHeaders; body: { id: unknown; params: Record<string, unknown> } }[] = [];
  const STATE = 'opaque+state/=="kept exactly"';
  // Sent as written: spacing and key order are the upstream's, and must reach the client unchanged.
  const inputRequired = (id: unknown) =>
    `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":{"resultType":"input_required","inputRequests":{"confirm":{"method":"elicitation/create","params":{"message":"Proceed?","requestedSchema":{"type":"object","properties":{"ok":{"type":"boolean"}}}}}},"requestState":${JSON.stringify(STATE)}, "_meta":{"x":1}}}`;

  before(async () => {
    upstream = createServer((req, res) => {
      let text = '';
      req.on('data', (d: Buffer) => {
        text += d.toString();
      });
      req.on('end', () => {
        const body = JSON.parse(text) as { id: unknown; params: Record<string, unknown> };
        seen.push({ headers: req.headers, body });
        res.writeHead(200, { 'content-type': 'application/json' });
        if (body.params.inputResponses === undefined) res.end(inputRequired(body.id));
        else
          res.end(
            JSON.stringify({
              jsonrpc: '2.0',
              id: body.id,
              result: { resultType: 'complete', content: [{ type: 'text', text: 'confirmed' }] },
            }),
          );
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const { port } = upstream.address() as AddressInfo;
    h = await startHarness({
      upstream: createHttpUpstream({ url: new URL(`http://127.0.0.1:${port}/mcp`), log: noLog }),
    });
  });
  after(async () => {
    await h?.close();
    upstream?.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  test('an InputRequiredResult reaches the client byte for byte, and the retry reaches the upstream with its own id and the exact requestState', async () => {
    const token = await h.token();
    const url = `${h.url}/mcp`;
    const first = await modernPost(url, token, {
      id: 1,
      method: 'tools/call',
      params: { name: 'deploy', arguments: {} },
    });
    assert.equal(first.status, 200);
    assert.equal(first.text, inputRequired(1), 'passed through unmodified');

    const inputResponses = { confirm: { action: 'accept', content: { ok: true } } };
    const retry = await modernPost(url, token, {
      id: 2,
      method: 'tools/call',
      params: { name: 'deploy', arguments: {}, inputResponses, requestState: STATE },
    });
    assert.equal(retry.status, 200);
    const answer = JSON.parse(retry.text) as { id: number; result: { resultType: string } };
    assert.equal(answer.id, 2);
    assert.equal(answer.result.resultType, 'complete');

    assert.equal(seen.length, 2, 'both rounds reached the one upstream');
    assert.equal(seen[0]!.body.id, 1);
    assert.equal(seen[1]!.body.id, 2, 'the retry carries its new id');
    assert.equal(seen[1]!.body.params.requestState, STATE);
    assert.deepEqual(seen[1]!.body.params.inputResponses, inputResponses);
    assert.equal(seen[1]!.headers['mcp-name'], 'deploy');
  });
});

describe('a modern-only upstream behind a sidecar', () => {
  let upstream: Server;
  let handler: ReturnType<typeof createMcpHandler>;
  let h: Harness;
  const seen: string[] = [];

  before(async () => {
    handler = createMcpHandler(
      () => new McpServer({ name: 'modern-only', version: '1.0.0' }, { capabilities: { tools: {} } }),
      { legacy: 'reject' },
    );
    const node = toNodeHandler(handler);
    upstream = createServer((req, res) => {
      seen.push(req.method ?? '');
      node(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const { port } = upstream.address() as AddressInfo;
    h = await startHarness({
      upstream: createHttpUpstream({ url: new URL(`http://127.0.0.1:${port}/mcp`), log: noLog }),
    });
  });
  after(async () => {
    await h?.close();
    await handler?.close();
    upstream?.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  test('a legacy initialize gets the upstream’s 400 and -32022 naming the supported versions, and no session', async () => {
    const token = await h.token();
    const res = await legacyPost(`${h.url}/mcp`, token, legacyInitialize(0));
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('mcp-session-id'), null);
    const error = res.body.error as { code: number; data: { supported: string[]; requested: string } };
    assert.equal(error.code, -32022);
    assert.deepEqual(error.data.supported, [MODERN]);
    assert.equal(error.data.requested, '2025-11-25');
    assert.equal(res.body.id, 0);
    assert.deepEqual(seen, ['POST'], 'the initialize was forwarded once, nothing more');
    const audited = h.audit.at(-1)!;
    assert.equal(audited.method, 'initialize');
    assert.equal(audited.errorCode, -32022);
    assert.equal(audited.sessionId, '');
    // The same endpoint still serves the modern era.
    const discover = await modernCall(`${h.url}/mcp`, token, 1, 'server/discover');
    assert.equal(discover.status, 200);
    assert.deepEqual(discover.answer.result?.supportedVersions, [MODERN]);
  });
});
