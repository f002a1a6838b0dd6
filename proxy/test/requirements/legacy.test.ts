/**
 * Checklist tests that no other file had, for the "Transport: legacy" part (2025-11-25 and earlier) of
 * `../shared/reference/mcp-gateway-requirements.md`: what the proxy passes through from an HTTP upstream
 * (405 for DELETE or GET, resumption, version negotiation, server requests) and what it does itself for
 * the sessions it runs over stdio (the standalone GET stream, event ids, a client's cancellation).
 * Real sockets, real upstreams (`node:http` servers, server-everything, the stdio fixture) and the MCP
 * SDK client where a client is needed.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { createHttpUpstream } from '../../src/upstream/http-upstream.ts';
import { createStdioUpstream } from '../../src/upstream/stdio-upstream.ts';
import { EVERYTHING, FIXTURE, type SseEvent, sseEvents, waitFor } from '../fixtures/stdio-harness.ts';
import { startEverythingHttp } from '../helpers/everything-http.ts';
import { type Harness, startHarness } from '../helpers/harness.ts';
import { ACCEPT_BOTH } from '../helpers/harness-post.ts';

const HANG_GUARD = { timeout: 60_000 };
const noLog = () => {};

interface Seen {
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A `node:http` MCP upstream on 127.0.0.1 that records every request it gets. */
async function startUpstream(
  handle: (req: Seen, res: ServerResponse) => void,
): Promise<{ url: URL; seen: Seen[]; close(): Promise<void> }> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      const entry = { method: req.method ?? '', headers: req.headers, body };
      seen.push(entry);
      handle(entry, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/mcp`),
    seen,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** One request to the proxy's MCP endpoint with a valid token; the body is read by the caller. */
async function send(
  h: Harness,
  method: 'POST' | 'GET' | 'DELETE',
  options: { body?: unknown; headers?: Record<string, string>; token?: string; signal?: AbortSignal } = {},
): Promise<Response> {
  return fetch(`${h.url}/mcp`, {
    method,
    headers: {
      authorization: `Bearer ${options.token ?? (await h.token())}`,
      accept: method === 'POST' ? ACCEPT_BOTH : 'text/event-stream',
      ...(method === 'POST' ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: options.signal,
  });
}

const initialize = (protocolVersion = '2025-11-25', id: number | string = 0) => ({
  jsonrpc: '2.0',
  id,
  method: 'initialize',
  params: { protocolVersion, capabilities: {}, clientInfo: { name: 'legacy-checklist', version: '1' } },
});

/** The JSON-RPC answer of a POST, whether it came as JSON or as the last message of an SSE stream. */
async function answerOf(res: Response): Promise<Record<string, unknown>> {
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    let last: Record<string, unknown> = {};
    for await (const event of sseEvents(res)) if (event.data) last = JSON.parse(event.data);
    return last;
  }
  return (await res.json()) as Record<string, unknown>;
}

/** Opens a legacy session and returns its id. */
async function openSession(h: Harness): Promise<string> {
  const res = await send(h, 'POST', { body: initialize() });
  await res.arrayBuffer();
  const session = res.headers.get('mcp-session-id');
  assert.equal(res.status, 200);
  assert.ok(session, 'initialize carries Mcp-Session-Id');
  return session;
}

/** The next event of an SSE stream that is not a comment. */
async function nextMessage(events: AsyncGenerator<SseEvent>): Promise<SseEvent> {
  for (;;) {
    const { value, done } = await events.next();
    assert.ok(!done && value, 'the stream ended early');
    if (value.data) return value;
  }
}

describe('a Streamable HTTP upstream that lets no client end its session nor open a GET stream', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let h: Harness;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.method === 'DELETE' || req.method === 'GET') {
        res.writeHead(405, { allow: 'POST', 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32000, message: 'Method not allowed.' } }));
        return;
      }
      const msg = JSON.parse(req.body) as { id?: number; method?: string };
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (msg.method === 'initialize') headers['mcp-session-id'] = 'kept-1';
      res.writeHead(200, headers).end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { ok: true } }));
    });
    h = await startHarness({ upstream: createHttpUpstream({ url: upstream.url, log: noLog }) });
  });
  after(async () => {
    await h?.close();
    await upstream?.close();
  });

  test('DELETE that the upstream does not support answers 405, and the session stays usable', async () => {
    const session = await openSession(h);
    upstream.seen.length = 0;
    const deleted = await send(h, 'DELETE', { headers: { 'mcp-session-id': session } });
    assert.equal(deleted.status, 405);
    assert.equal(((await deleted.json()) as { error: { code: number } }).error.code, -32000);
    assert.deepEqual(
      upstream.seen.map((s) => [s.method, s.headers['mcp-session-id']]),
      [['DELETE', session]],
      'the DELETE reached the upstream with its session',
    );
    const after = await send(h, 'POST', {
      body: { jsonrpc: '2.0', id: 2, method: 'tools/list' },
      headers: { 'mcp-session-id': session },
    });
    assert.equal(after.status, 200, 'a refused DELETE does not end the session in the proxy');
    assert.deepEqual(await after.json(), { jsonrpc: '2.0', id: 2, result: { ok: true } });
    assert.equal(upstream.seen.length, 2);
  });

  test('GET for a standalone stream that the upstream does not offer answers 405, and the session stays usable', async () => {
    const session = await openSession(h);
    upstream.seen.length = 0;
    const get = await send(h, 'GET', { headers: { 'mcp-session-id': session } });
    assert.equal(get.status, 405);
    assert.notEqual(get.headers.get('content-type'), 'text/event-stream');
    await get.arrayBuffer();
    assert.equal(upstream.seen.length, 1);
    assert.equal(upstream.seen[0]!.method, 'GET');
    assert.equal(upstream.seen[0]!.headers.accept, 'text/event-stream');
    assert.equal(upstream.seen[0]!.headers['mcp-session-id'], session);
    const after = await send(h, 'POST', {
      body: { jsonrpc: '2.0', id: 3, method: 'tools/list' },
      headers: { 'mcp-session-id': session },
    });
    assert.equal(after.status, 200);
    await after.arrayBuffer();
  });
});

describe('a Streamable HTTP upstream that offers resumption', () => {
  // The upstream primes the POST stream with an event id and a retry field, closes it before answering,
  // and replays the answer on a GET that names the primed id.
  const PRIMING = 'id: r-1.post.0\nretry: 250\ndata: \n\n';
  const replayOf = (id: number) =>
    `id: r-1.post.1\nevent: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id, result: { resumed: true } })}\n\n`;
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  let h: Harness;
  let callId = 0;

  before(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.method === 'GET') {
        if (req.headers['last-event-id'] !== 'r-1.post.0') {
          res.writeHead(405, { allow: 'POST' }).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.end(replayOf(callId));
        return;
      }
      const msg = JSON.parse(req.body) as { id: number; method: string };
      if (msg.method === 'initialize') {
        res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'r-1' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: '2025-11-25' } }));
        return;
      }
      callId = msg.id;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(PRIMING);
    });
    h = await startHarness({ upstream: createHttpUpstream({ url: upstream.url, log: noLog }) });
  });
  after(async () => {
    await h?.close();
    await upstream?.close();
  });

  test('event ids, the priming event and retry reach the client unchanged, and Last-Event-ID reaches the upstream with the session', async () => {
    const session = await openSession(h);
    const call = await send(h, 'POST', {
      body: { jsonrpc: '2.0', id: 41, method: 'tools/call', params: { name: 'slow' } },
      headers: { 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' },
    });
    assert.equal(call.status, 200);
    assert.equal(call.headers.get('content-type'), 'text/event-stream');
    assert.equal(await call.text(), PRIMING, 'the priming event and its retry field pass byte for byte');
    upstream.seen.length = 0;
    const resumed = await send(h, 'GET', {
      headers: {
        'mcp-session-id': session,
        'mcp-protocol-version': '2025-11-25',
        'last-event-id': 'r-1.post.0',
      },
    });
    assert.equal(resumed.status, 200);
    assert.equal(resumed.headers.get('content-type'), 'text/event-stream');
    assert.equal(await resumed.text(), replayOf(41), 'the replayed answer keeps its event id');
    assert.equal(upstream.seen.length, 1);
    const got = upstream.seen[0]!.headers;
    assert.equal(got['last-event-id'], 'r-1.post.0');
    assert.equal(got['mcp-session-id'], session);
  });
});

describe('server-everything through the proxy, over Streamable HTTP and over stdio', () => {
  let child: ChildProcess;
  const harnesses: Record<'http' | 'stdio', Harness> = {} as Record<'http' | 'stdio', Harness>;

  before(async () => {
    const everything = await startEverythingHttp();
    child = everything.child;
    harnesses.http = await startHarness({
      upstream: createHttpUpstream({ url: everything.url, log: noLog }),
    });
    harnesses.stdio = await startHarness({
      upstream: createStdioUpstream({ command: process.execPath, args: [EVERYTHING, 'stdio'] }),
    });
  });
  after(async () => {
    await harnesses.http?.close();
    await harnesses.stdio?.close();
    child?.kill();
  });

  test(
    'initialize is answered with the requested version when the server supports it, else with its latest',
    HANG_GUARD,
    async () => {
      for (const kind of ['http', 'stdio'] as const) {
        const h = harnesses[kind];
        const asked = ['2025-11-25', '2025-06-18', '2025-03-26', '1999-01-01'];
        const answered: string[] = [];
        for (const version of asked) {
          const res = await send(h, 'POST', { body: initialize(version, version) });
          assert.equal(res.status, 200, `${kind} ${version}`);
          assert.ok(res.headers.get('mcp-session-id'), `${kind} ${version}: a session`);
          const answer = (await answerOf(res)) as { id: string; result: { protocolVersion: string } };
          assert.equal(answer.id, version);
          answered.push(answer.result.protocolVersion);
        }
        assert.deepEqual(answered, ['2025-11-25', '2025-06-18', '2025-03-26', '2025-11-25'], kind);
      }
    },
  );

  /**
   * Two SDK clients with a sampling handler each, in sessions of two principals, call
   * server-everything's `trigger-sampling-request` at once. Resolves with what each saw.
   */
  async function sampleTwice(h: Harness) {
    const clients = await Promise.all(
      (['alice', 'bob'] as const).map(async (who) => {
        const token = await h.token(
          who === 'alice' ? {} : { sub: 'user-2', email: 'bob@example.com', groups: ['eng'] },
        );
        const client = new Client(
          { name: `sampler-${who}`, version: '1' },
          { capabilities: { sampling: {} } },
        );
        const sampled: { id: unknown; prompt: string }[] = [];
        client.setRequestHandler(CreateMessageRequestSchema, async (request, extra) => {
          const content = request.params.messages[0]?.content as { text?: string };
          sampled.push({ id: extra.requestId, prompt: content.text ?? '' });
          return { model: 'test', role: 'assistant', content: { type: 'text', text: `sampled by ${who}` } };
        });
        let streamOpen: () => void = () => {};
        const opened = new Promise<void>((r) => {
          streamOpen = r;
        });
        const transport = new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
          // The stdio proxy sends server requests on the session's GET stream: wait until it is open.
          fetch: async (url, init) => {
            const res = await fetch(url, init);
            if (init?.method === 'GET' && res.status === 200) streamOpen();
            return res;
          },
        });
        await client.connect(transport);
        await opened;
        return { who, client, transport, sampled };
      }),
    );
    const results = await Promise.all(
      clients.map((c) =>
        c.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: `from ${c.who}` } }),
      ),
    );
    const seen = clients.map((c, i) => ({
      who: c.who,
      session: c.transport.sessionId!,
      sampled: c.sampled,
      text: JSON.stringify(results[i]!.content),
    }));
    await Promise.all(clients.map((c) => c.client.close()));
    return seen;
  }

  function assertRouted(h: Harness, seen: Awaited<ReturnType<typeof sampleTwice>>): void {
    assert.notEqual(seen[0]!.session, seen[1]!.session);
    for (const s of seen) {
      const other = s.who === 'alice' ? 'bob' : 'alice';
      assert.equal(s.sampled.length, 1, `${s.who}: one sampling request`);
      assert.match(s.sampled[0]!.prompt, new RegExp(`from ${s.who}`), `${s.who}: its own request`);
      assert.match(s.text, new RegExp(`sampled by ${s.who}`), `${s.who}: its own answer reached the server`);
      assert.doesNotMatch(s.text, new RegExp(`sampled by ${other}`));
      // The answer was POSTed in the client's session, accepted with 202, under the server's request id.
      const answers = h.audit.filter((a) => a.method === 'response' && a.sessionId === s.session);
      assert.deepEqual(
        answers.map((a) => [a.httpStatus, a.requestId]),
        [[202, JSON.stringify(s.sampled[0]!.id)]],
        `${s.who}: the audited answer`,
      );
    }
  }

  test(
    'over Streamable HTTP, each session gets its own server sampling requests and its answers (202) reach the server',
    HANG_GUARD,
    async () => {
      const h = harnesses.http;
      assertRouted(h, await sampleTwice(h));
    },
  );

  test(
    'over stdio, each session gets its own server sampling requests and its answers (202) reach the server',
    HANG_GUARD,
    async () => {
      const h = harnesses.stdio;
      assertRouted(h, await sampleTwice(h));
    },
  );
});

/**
 * A stdio MCP server that holds a `hold` request unanswered and, on `release`, answers it late, sends a
 * notification and answers `release`: the late answer then matches no request the proxy waits for.
 * `finish` sends a last notification, then its answer.
 */
const LATE_ANSWER_SERVER = `
const write = (m) => process.stdout.write(JSON.stringify(m) + '\\n');
let held;
const lines = require('node:readline').createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const msg = JSON.parse(line);
  if (msg.method === 'initialize')
    write({ jsonrpc: '2.0', id: msg.id, result: { protocolVersion: '2025-11-25', capabilities: {}, serverInfo: { name: 'late', version: '1' } } });
  else if (msg.method === 'hold') { held = msg.id; process.stderr.write('holding\\n'); }
  else if (msg.method === 'release') {
    write({ jsonrpc: '2.0', id: held, result: { late: true } });
    write({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'marker' } });
    write({ jsonrpc: '2.0', id: msg.id, result: { released: true } });
  } else if (msg.method === 'finish') {
    write({ jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'last' } });
    write({ jsonrpc: '2.0', id: msg.id, result: {} });
  }
});
lines.on('close', () => process.exit(0));
`;

describe('legacy sessions the proxy runs over stdio', () => {
  const harnesses: Harness[] = [];
  after(async () => {
    await Promise.all(harnesses.map((h) => h.close()));
  });

  test(
    'the standalone GET stream carries no JSON-RPC response, not even one that matches no pending request',
    HANG_GUARD,
    async () => {
      const logs: { msg: string; fields: Record<string, unknown> }[] = [];
      const h = await startHarness({
        upstream: createStdioUpstream({
          command: process.execPath,
          args: ['-e', LATE_ANSWER_SERVER],
          log: (_level, msg, fields = {}) => logs.push({ msg, fields }),
        }),
      });
      harnesses.push(h);
      const session = await openSession(h);
      const headers = { 'mcp-session-id': session };
      const streamAbort = new AbortController();
      const stream = await send(h, 'GET', { headers, signal: streamAbort.signal });
      assert.equal(stream.status, 200);
      const events = sseEvents(stream);
      // 1. A request the client gives up on: its answer comes only after the client left.
      const holdAbort = new AbortController();
      const held = send(h, 'POST', {
        body: { jsonrpc: '2.0', id: 'h-1', method: 'hold' },
        headers,
        signal: holdAbort.signal,
      });
      await waitFor(
        () => logs.some((l) => l.msg === 'MCP server stderr' && l.fields.line === 'holding'),
        'the server to hold the request',
      );
      holdAbort.abort();
      await assert.rejects(held);
      await waitFor(() => h.audit.some((a) => a.method === 'hold'), 'the held exchange to settle');
      // 2. The server answers it late, notifies, and answers release.
      const release = await send(h, 'POST', {
        body: { jsonrpc: '2.0', id: 'r-1', method: 'release' },
        headers,
      });
      assert.equal(release.status, 200);
      assert.deepEqual(await release.json(), { jsonrpc: '2.0', id: 'r-1', result: { released: true } });
      const finish = await send(h, 'POST', {
        body: { jsonrpc: '2.0', id: 'f-1', method: 'finish' },
        headers,
      });
      assert.deepEqual(await finish.json(), { jsonrpc: '2.0', id: 'f-1', result: {} });
      // 3. The stream got the two notifications and nothing else: the server wrote the late answer and the
      //    answer to release before the last notification, so they would have arrived before it.
      const streamed: unknown[] = [];
      for (;;) {
        const message = JSON.parse((await nextMessage(events)).data) as { params?: { data?: unknown } };
        streamed.push(message);
        if (message.params?.data === 'last') break;
      }
      assert.deepEqual(streamed, [
        { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'marker' } },
        { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'last' } },
      ]);
      streamAbort.abort();
    },
  );

  test('a reopened GET stream never reuses an event id of the session', HANG_GUARD, async () => {
    const h = await startHarness({
      upstream: createStdioUpstream({ command: process.execPath, args: [FIXTURE] }),
    });
    harnesses.push(h);
    const session = await openSession(h);
    const headers = { 'mcp-session-id': session };
    const notify = async (id: number) => {
      const res = await send(h, 'POST', {
        body: { jsonrpc: '2.0', id, method: 'fixture/notify', params: { text: `n${id}` } },
        headers,
      });
      assert.equal(res.status, 200);
      await res.arrayBuffer();
    };
    const ids: string[] = [];
    for (const round of [1, 2]) {
      const abort = new AbortController();
      const streamHeaders: Record<string, string> =
        round === 1 ? headers : { ...headers, 'last-event-id': ids.at(-1)! };
      const stream = await send(h, 'GET', { headers: streamHeaders, signal: abort.signal });
      assert.equal(stream.status, 200, `stream ${round}`);
      const events = sseEvents(stream);
      await notify(round);
      // The fixture sends a notification and a server request (roots/list) on the stream.
      for (let i = 0; i < 2; i++) {
        const event = await nextMessage(events);
        assert.ok(event.id, 'every event has an id');
        ids.push(event.id);
      }
      const ended = h.audit.filter((a) => a.method === 'http/get-stream').length;
      abort.abort();
      await waitFor(
        () => h.audit.filter((a) => a.method === 'http/get-stream').length > ended,
        'the stream to end',
      );
    }
    assert.equal(new Set(ids).size, 4, `ids ${ids.join(', ')} are unique in the session`);
  });

  test(
    'a notifications/cancelled the client posts is accepted with 202 and reaches the stdio server',
    HANG_GUARD,
    async () => {
      const logs: { msg: string; fields: Record<string, unknown> }[] = [];
      const h = await startHarness({
        upstream: createStdioUpstream({
          command: process.execPath,
          args: [FIXTURE],
          log: (_level, msg, fields = {}) => logs.push({ msg, fields }),
        }),
      });
      harnesses.push(h);
      const session = await openSession(h);
      const headers = { 'mcp-session-id': session };
      // A request in flight, then the client's explicit cancellation of it.
      const abort = new AbortController();
      const hanging = send(h, 'POST', {
        body: { jsonrpc: '2.0', id: 'c-1', method: 'fixture/hang' },
        headers,
        signal: abort.signal,
      });
      await waitFor(
        () => logs.some((l) => l.msg === 'MCP server stderr' && l.fields.line === 'hanging on "c-1"'),
        'the server to get the request',
      );
      const cancel = { requestId: 'c-1', reason: 'the user stopped it' };
      const cancelled = await send(h, 'POST', {
        body: { jsonrpc: '2.0', method: 'notifications/cancelled', params: cancel },
        headers,
      });
      assert.equal(cancelled.status, 202);
      assert.equal(await cancelled.text(), '');
      const received = await send(h, 'POST', {
        body: { jsonrpc: '2.0', id: 'q', method: 'fixture/received' },
        headers,
      });
      const body = (await received.json()) as { result: { received: string[]; cancelled: unknown[] } };
      assert.deepEqual(body.result.cancelled, [cancel], 'the server got the cancellation as sent');
      assert.deepEqual(body.result.received.slice(-3), [
        'fixture/hang',
        'notifications/cancelled',
        'fixture/received',
      ]);
      abort.abort();
      await assert.rejects(hanging);
    },
  );
});
