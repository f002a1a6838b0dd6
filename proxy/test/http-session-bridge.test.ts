/**
 * The sidecar's session bridge end to end: modern (2026-07-28) clients through the real proxy in front of
 * a Streamable HTTP server that only speaks 2025-11-25 (the MCP SDK's stateful server), so every modern
 * request goes through a session the proxy opened. What the server sends on the session's GET stream
 * reaches `subscriptions/listen` streams; a session the server forgot costs no request; a server without
 * a GET stream, or one that drops it, is handled; closing the proxy releases everything.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type EventStore,
  StreamableHTTPServerTransport,
} from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { EmptyResultSchema, type JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { JsonRpcId } from '../src/server/jsonrpc.ts';
import { type HttpSessionChannelOptions, httpSessionChannels } from '../src/upstream/http-session-channel.ts';
import type { ReconnectPolicy } from '../src/upstream/http-session-stream.ts';
import { createHttp1Transport } from '../src/upstream/http1-transport.ts';
import type { ChannelEnd } from '../src/upstream/message-channel.ts';
import { createSidecarUpstream } from '../src/upstream/sidecar-upstream.ts';
import { waitFor } from './fixtures/stdio-harness.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { modernCall, openListenStream } from './helpers/modern-client.ts';

const HANG_GUARD = { timeout: 30_000 };
const clientInfo = { name: 'tessera-proxy', version: 'test' };
const SUBSCRIPTION_ID = 'io.modelcontextprotocol/subscriptionId';

/** One HTTP request the server received, with what it answered (read once the answer is under way). */
interface Seen {
  method: string;
  session: string | undefined;
  /** The JSON-RPC method of a POSTed message. */
  rpc: string | undefined;
  /** The POSTed message. */
  body: Record<string, unknown> | undefined;
  accept: string | undefined;
  protocolVersion: string | undefined;
  lastEventId: string | undefined;
  res: ServerResponse;
  /** The connection closed or the answer ended. */
  closed: boolean;
}

/** An in-memory event store, so the server's GET stream events carry ids and can be replayed. */
function memoryEventStore(): EventStore & {
  lastId(stream: string): string | undefined;
  getStreamIdForEventId(id: string): Promise<string | undefined>;
} {
  const events: { id: string; stream: string; message: JSONRPCMessage }[] = [];
  return {
    async storeEvent(stream, message) {
      const id = `${stream}:${events.length + 1}`;
      events.push({ id, stream, message });
      return id;
    },
    async getStreamIdForEventId(id) {
      return events.find((e) => e.id === id)?.stream;
    },
    async replayEventsAfter(lastEventId, { send }) {
      const at = events.findIndex((e) => e.id === lastEventId);
      if (at === -1) throw new Error(`unknown event id ${lastEventId}`);
      const stream = events[at]!.stream;
      for (const e of events.slice(at + 1)) if (e.stream === stream) await send(e.id, e.message);
      return stream;
    },
    lastId(stream) {
      return events.findLast((e) => e.stream === stream)?.id;
    },
  };
}

interface LegacyServer {
  url: URL;
  seen: Seen[];
  /** Session ids in the order the server minted them. */
  minted: string[];
  /** How many times a tool ran. */
  runs: number;
  /** How many runs of `wait` were cancelled. */
  cancelled: number;
  store: ReturnType<typeof memoryEventStore> | undefined;
  transport(session: string): StreamableHTTPServerTransport;
  mcp(session: string): McpServer;
  /** Answers `404` to the session from now on, without closing anything (its GET stream stays open). */
  forget(session: string): void;
  count(method: string, rpc?: string): number;
  close(): Promise<void>;
}

/**
 * A Streamable HTTP MCP server on the SDK's stateful transport, sessions routed by `Mcp-Session-Id`
 * (unknown: `404`). Tools: `touch` counts its runs and announces a tools list change; `vanish` counts
 * its run and closes its own session before answering; `wait` runs until it is cancelled. `getStatus` answers every GET with that status
 * instead of a stream.
 */
async function startLegacyServer(
  options: {
    getStatus?: number;
    eventStore?: boolean;
    /** Never answers a GET: no headers, no stream. */
    holdGet?: boolean;
    /** Answers `400` to a session's GET until its client has sent `notifications/initialized`. */
    refuseEarlyGet?: boolean;
    /** Never answers a POST of this JSON-RPC method. */
    holdPosts?: string;
    /** Runs when a session's client sends `notifications/initialized`. */
    onInitialized?: (mcp: McpServer) => void;
  } = {},
) {
  const seen: Seen[] = [];
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; mcp: McpServer }>();
  const every = new Set<StreamableHTTPServerTransport>();
  const store = options.eventStore ? memoryEventStore() : undefined;
  const state = { runs: 0, cancelled: 0 };
  const minted: string[] = [];
  const initialized = new Set<string>();

  const build = (transport: StreamableHTTPServerTransport): McpServer => {
    const mcp = new McpServer(
      { name: 'legacy-bridge-test', version: '1.0.0' },
      { capabilities: { tools: { listChanged: true } } },
    );
    mcp.registerTool('touch', { description: 'Counts its runs and announces a list change' }, async () => {
      state.runs++;
      mcp.sendToolListChanged();
      return { content: [{ type: 'text', text: `run ${state.runs}` }] };
    });
    mcp.registerTool('vanish', { description: 'Runs, then closes its own session' }, async () => {
      state.runs++;
      await transport.close();
      return { content: [{ type: 'text', text: 'never delivered' }] };
    });
    mcp.registerTool(
      'poll',
      { description: 'Closes its answer stream (SSE polling; only with an event store), then answers' },
      async (extra) => {
        state.runs++;
        extra.closeSSEStream?.();
        await sleep(50);
        return { content: [{ type: 'text', text: `polled ${state.runs}` }] };
      },
    );
    mcp.registerTool('wait', { description: 'Runs until it is cancelled' }, async (extra) => {
      state.runs++;
      await new Promise((resolve) => extra.signal.addEventListener('abort', resolve, { once: true }));
      state.cancelled++;
      return { content: [{ type: 'text', text: 'cancelled' }] };
    });
    const onInitialized = options.onInitialized;
    if (onInitialized) mcp.server.oninitialized = () => onInitialized(mcp);
    return mcp;
  };

  const header = (req: IncomingMessage, name: string) => {
    const v = req.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const json = (res: ServerResponse, status: number, message: string, code: number) =>
    res
      .writeHead(status, { 'content-type': 'application/json' })
      .end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code, message } }));

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>);
    const entry: Seen = {
      method: req.method ?? '',
      session: header(req, 'mcp-session-id'),
      rpc: typeof body?.method === 'string' ? body.method : undefined,
      accept: header(req, 'accept'),
      protocolVersion: header(req, 'mcp-protocol-version'),
      lastEventId: header(req, 'last-event-id'),
      body,
      res,
      closed: false,
    };
    seen.push(entry);
    res.once('close', () => {
      entry.closed = true;
    });
    if (entry.rpc === 'notifications/initialized' && entry.session) initialized.add(entry.session);
    if (req.method === 'GET' && options.holdGet) return;
    if (entry.rpc !== undefined && entry.rpc === options.holdPosts) return;
    if (req.method === 'GET' && options.refuseEarlyGet && !initialized.has(entry.session ?? '')) {
      return json(res, 400, 'Bad Request: not initialized', -32000);
    }
    if (req.method === 'GET' && options.getStatus !== undefined) {
      res.writeHead(options.getStatus, { allow: 'POST, DELETE' }).end();
      return;
    }
    if (entry.session === undefined) {
      if (entry.rpc !== 'initialize') return json(res, 400, 'Bad Request: no session', -32000);
      const transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: randomUUID,
        eventStore: store,
        retryInterval: store ? 20 : undefined,
        onsessioninitialized: (id) => {
          minted.push(id);
          sessions.set(id, { transport, mcp });
        },
      });
      transport.onclose = () => {
        const id = transport.sessionId;
        if (id !== undefined && sessions.get(id)?.transport === transport) sessions.delete(id);
      };
      every.add(transport);
      const mcp = build(transport);
      await mcp.connect(transport);
      await transport.handleRequest(req, res, body);
      return;
    }
    const known = sessions.get(entry.session);
    if (!known) return json(res, 404, 'Session not found', -32001);
    await known.transport.handleRequest(req, res, body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);

  const of = (session: string) => {
    const known = sessions.get(session);
    if (!known) throw new Error(`the server has no session ${session}`);
    return known;
  };
  const legacy: LegacyServer = {
    url,
    seen,
    minted,
    get runs() {
      return state.runs;
    },
    get cancelled() {
      return state.cancelled;
    },
    store,
    transport: (session) => of(session).transport,
    mcp: (session) => of(session).mcp,
    forget(session) {
      sessions.delete(session);
    },
    count: (method, rpc) =>
      seen.filter((s) => s.method === method && (rpc === undefined || s.rpc === rpc)).length,
    async close() {
      await Promise.all([...every].map((t) => t.close()));
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return legacy;
}

/** The GET streams the server holds open for `session` (their answer has started and not ended). */
const openGets = (s: LegacyServer, session?: string) =>
  s.seen.filter(
    (x) =>
      x.method === 'GET' &&
      x.res.headersSent &&
      !x.closed &&
      (session === undefined || x.session === session),
  );

interface LogLine {
  level: string;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

/** The real proxy in sidecar mode in front of `s`, with its log lines collected. */
async function startBridge(
  s: LegacyServer,
): Promise<{ h: Harness; url: string; token: string; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const log = (level: string, msg: string, fields?: Record<string, unknown>) => {
    logs.push({ level, msg, fields });
  };
  const h = await startHarness({ upstream: createSidecarUpstream({ url: s.url, log, clientInfo }) });
  return { h, url: `${h.url}/mcp`, token: await h.token(), logs };
}

const listen = openListenStream;

const listChanged = (subscription: string) => ({
  jsonrpc: '2.0',
  method: 'notifications/tools/list_changed',
  params: { _meta: { [SUBSCRIPTION_ID]: subscription } },
});

const touch = (url: string, token: string, id: string) =>
  modernCall(url, token, id, 'tools/call', { name: 'touch', arguments: {} });

describe('the GET stream of a session the proxy opened', () => {
  test(
    'a modern tools/call’s list change reaches a subscriptions/listen stream, tagged with its subscription id',
    HANG_GUARD,
    async () => {
      const s = await startLegacyServer();
      const { h, url, token } = await startBridge(s);
      try {
        const l = await listen(url, token, 'sub-1', { toolsListChanged: true, promptsListChanged: true });
        assert.equal(l.status, 200);
        await waitFor(() => l.messages.length >= 1, 'the acknowledgement');
        assert.deepEqual(l.messages[0], {
          jsonrpc: '2.0',
          method: 'notifications/subscriptions/acknowledged',
          params: { notifications: { toolsListChanged: true }, _meta: { [SUBSCRIPTION_ID]: 'sub-1' } },
        });
        await waitFor(() => openGets(s).length === 1, 'the bridge’s GET stream');
        const [get] = openGets(s);
        assert.equal(get!.session, s.minted[0], 'the session the proxy initialized');
        assert.equal(get!.protocolVersion, '2025-11-25');
        assert.match(get!.accept ?? '', /text\/event-stream/);
        assert.equal(get!.lastEventId, undefined, 'a first GET resumes nothing');

        const call = await touch(url, token, 'c1');
        assert.equal(call.status, 200);
        assert.equal(call.answer.id, 'c1');
        assert.match(JSON.stringify(call.answer.result?.content), /run 1/);
        await waitFor(() => l.messages.length >= 2, 'the tools list change');
        assert.deepEqual(l.messages[1], listChanged('sub-1'));
        assert.equal(s.runs, 1);
        assert.equal(s.count('GET'), 1, 'one GET for the one session');
        assert.equal(s.minted.length, 1, 'the listen stream and the call share the warm session');
        l.close();
      } finally {
        await h.close();
        await s.close();
      }
    },
  );

  test(
    'a server request on the GET stream is answered like one in an answer: an error, since no client can take it',
    HANG_GUARD,
    async () => {
      const s = await startLegacyServer();
      const { h, url, token } = await startBridge(s);
      try {
        assert.equal((await modernCall(url, token, 1, 'tools/list')).status, 200);
        await waitFor(() => openGets(s).length === 1, 'the bridge’s GET stream');
        await assert.rejects(s.mcp(s.minted[0]!).server.ping(), (err: Error & { code?: number }) => {
          assert.equal(err.code, -32601);
          assert.match(err.message, /no open stream to receive server requests/);
          return true;
        });
        const answers = s.seen.filter((x) => x.method === 'POST' && x.rpc === undefined);
        assert.equal(answers.length, 1, 'the ping was answered once');
        assert.equal(answers[0]!.session, s.minted[0]);
        const error = answers[0]!.body?.error as { code?: unknown } | undefined;
        assert.equal(error?.code, -32601, 'the proxy answered the ping with an error');
      } finally {
        await h.close();
        await s.close();
      }
    },
  );

  test(
    'the GET stream opens before initialized: a ping the server sends the moment it hears it is answered, not dropped',
    HANG_GUARD,
    async () => {
      // No event store: what the server sends while no stream is open is lost for good.
      const pings: Promise<unknown>[] = [];
      const s = await startLegacyServer({
        onInitialized: (mcp) =>
          pings.push(
            mcp.server.request({ method: 'ping' }, EmptyResultSchema, { timeout: 5_000 }).catch((e) => e),
          ),
      });
      const { h, url, token } = await startBridge(s);
      try {
        assert.equal((await modernCall(url, token, 1, 'tools/list')).status, 200);
        await waitFor(() => pings.length === 1, 'the server to hear initialized');
        const outcome = (await pings[0]) as { code?: number; message?: string };
        // The proxy answers a server's ping with an error (no client can take it); a dropped one times out (-32001).
        assert.equal(outcome.code, -32601, `answered by the proxy, got ${outcome.message}`);
        const get = s.seen.findIndex((x) => x.method === 'GET');
        const initialized = s.seen.findIndex((x) => x.rpc === 'notifications/initialized');
        assert.ok(get !== -1 && get < initialized, 'the GET came before initialized');
        assert.equal(s.seen[get]!.session, s.minted[0]);
        assert.equal(s.seen[get]!.protocolVersion, '2025-11-25');
      } finally {
        await h.close();
        await s.close();
      }
    },
  );

  test(
    'a server without a GET stream (405) still serves requests, and the GET is not tried again',
    HANG_GUARD,
    async () => {
      const s = await startLegacyServer({ getStatus: 405 });
      const { h, url, token, logs } = await startBridge(s);
      try {
        assert.equal((await touch(url, token, 'a')).status, 200);
        await waitFor(
          () => logs.some((l) => l.msg === 'the MCP server offers no GET stream'),
          'the reader to stop at the 405',
        );
        assert.equal((await touch(url, token, 'b')).status, 200);
        assert.equal((await modernCall(url, token, 'c', 'tools/list')).status, 200);
        assert.equal(s.count('GET'), 1, 'one GET, answered 405, and no other');
        assert.equal(s.runs, 2);
        assert.deepEqual(
          logs.filter((l) => /GET stream/.test(l.msg)).map((l) => l.msg),
          ['the MCP server offers no GET stream'],
          'no reconnection, no giving up',
        );
      } finally {
        await h.close();
        await s.close();
      }
    },
  );

  test(
    'a GET stream the server drops is reopened with Last-Event-ID, and later list changes still arrive',
    HANG_GUARD,
    async () => {
      const s = await startLegacyServer({ eventStore: true });
      const { h, url, token } = await startBridge(s);
      try {
        const l = await listen(url, token, 'sub-2', { toolsListChanged: true });
        await waitFor(() => l.messages.length >= 1, 'the acknowledgement');
        await waitFor(() => openGets(s).length === 1, 'the bridge’s GET stream');
        const [first] = openGets(s);
        assert.equal((await touch(url, token, 'c1')).status, 200);
        await waitFor(() => l.messages.length >= 2, 'the first list change');
        const lastId = s.store!.lastId('_GET_stream');
        assert.ok(lastId, 'the list change went out with an event id');

        s.transport(s.minted[0]!).closeStandaloneSSEStream();
        await waitFor(() => first!.closed, 'the server to drop the stream');
        await waitFor(() => openGets(s).length === 1, 'the reopened GET stream');
        const [second] = openGets(s);
        assert.notEqual(second, first);
        assert.equal(second!.lastEventId, lastId, 'resumed after the last event seen');
        assert.equal(second!.session, s.minted[0]);

        assert.equal((await touch(url, token, 'c2')).status, 200);
        await waitFor(() => l.messages.length >= 3, 'the list change after the reconnection');
        assert.deepEqual(l.messages.slice(1), [listChanged('sub-2'), listChanged('sub-2')]);
        assert.equal(s.count('GET'), 2);
        assert.equal(s.minted.length, 1, 'still the same session');
        l.close();
      } finally {
        await h.close();
        await s.close();
      }
    },
  );

  test(
    'closing the proxy with a listen stream open deletes the session and closes the GET stream',
    HANG_GUARD,
    async () => {
      const s = await startLegacyServer();
      const { h, url, token } = await startBridge(s);
      try {
        const l = await listen(url, token, 'sub-3', { toolsListChanged: true });
        await waitFor(() => l.messages.length >= 1, 'the acknowledgement');
        await waitFor(() => openGets(s).length === 1, 'the bridge’s GET stream');
        const [get] = openGets(s);
        await h.close();
        assert.deepEqual(
          s.seen.filter((x) => x.method === 'DELETE').map((x) => x.session),
          [s.minted[0]],
          'the session is deleted',
        );
        await waitFor(() => get!.closed, 'the GET connection to close');
        await l.ended;
        assert.equal(s.count('GET'), 1, 'nothing reconnects after the close');
      } finally {
        await s.close();
      }
    },
  );
});

/** Opens a channel to `s` and initializes its session by hand, as the pool's handshake does. */
async function openChannel(
  s: LegacyServer,
  reconnect: ReconnectPolicy,
  more: Partial<HttpSessionChannelOptions> = {},
) {
  const transport = createHttp1Transport({ url: s.url, connections: 8, headersTimeoutMs: 10_000 });
  const logs: LogLine[] = [];
  const messages: Record<string, unknown>[] = [];
  const ends: ChannelEnd[] = [];
  const failed: [JsonRpcId, Omit<ChannelEnd, 'undelivered'>][] = [];
  const channel = httpSessionChannels({
    transport,
    path: '/mcp',
    log: (level, msg, fields) => logs.push({ level, msg, fields }),
    reconnect,
    ...more,
  })(
    {
      onMessage: (m) => messages.push(m),
      onEnd: (e) => ends.push(e),
      onFailed: (id, f) => failed.push([id, f]),
    },
    { test: 'channel' },
  );
  const params = { protocolVersion: '2025-11-25', capabilities: {}, clientInfo };
  assert.ok(channel.send({ jsonrpc: '2.0', id: 1, method: 'initialize', params }));
  await waitFor(() => messages.some((m) => m.id === 1), 'the initialize answer');
  assert.ok(channel.send({ jsonrpc: '2.0', method: 'notifications/initialized' }));
  return { channel, transport, logs, messages, ends, failed };
}

/** A legacy server and a channel to it, both closed when `body` is done. */
async function withChannel(
  server: Parameters<typeof startLegacyServer>[0],
  reconnect: ReconnectPolicy,
  more: Partial<HttpSessionChannelOptions>,
  body: (s: LegacyServer, c: Awaited<ReturnType<typeof openChannel>>) => Promise<void>,
) {
  const s = await startLegacyServer(server);
  const c = await openChannel(s, reconnect, more);
  try {
    await body(s, c);
  } finally {
    await c.channel.close();
    await c.transport.close();
    await s.close();
  }
}

/** The JSON-RPC methods the server was POSTed, in order. */
const posted = (s: LegacyServer) => s.seen.filter((x) => x.method === 'POST').map((x) => x.rpc);

describe('an answer stream the server closes before the answer (SSE polling)', () => {
  test(
    'the proxy resumes it with Last-Event-ID and the client gets the result, the tool run once',
    HANG_GUARD,
    async () => {
      const s = await startLegacyServer({ eventStore: true });
      const { h, url, token } = await startBridge(s);
      try {
        const call = await modernCall(url, token, 'p1', 'tools/call', { name: 'poll', arguments: {} });
        assert.equal(call.status, 200);
        assert.equal(call.answer.id, 'p1');
        assert.match(JSON.stringify(call.answer.result?.content), /polled 1/);
        assert.equal(s.runs, 1);
        assert.equal(s.count('POST', 'tools/call'), 1, 'sent once');
        const post = s.seen.find((x) => x.rpc === 'tools/call')!;
        const resumes = s.seen.filter((x) => x.method === 'GET' && x.lastEventId !== undefined);
        assert.equal(resumes.length, 1, 'one GET resumed the answer stream');
        assert.equal(resumes[0]!.session, post.session);
        const stream = await s.store!.getStreamIdForEventId(resumes[0]!.lastEventId!);
        assert.ok(stream !== undefined && stream !== '_GET_stream', 'it resumed the POST’s stream');
        assert.deepEqual(
          h.audit.filter((a) => a.method === 'tools/call').map((a) => a.outcome),
          ['ok'],
        );
        assert.equal(s.minted.length, 1, 'on the same session');
      } finally {
        await h.close();
        await s.close();
      }
    },
  );

  test(
    'when it cannot be resumed (the GET is refused), that request fails at once and the session carries on',
    HANG_GUARD,
    async () => {
      const s = await startLegacyServer({ eventStore: true, getStatus: 405 });
      const c = await openChannel(s, { baseMs: 1, maxMs: 5, maxFailures: 3 });
      try {
        assert.ok(c.channel.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'poll' } }));
        await waitFor(() => c.failed.length === 1, 'the request to fail');
        const [[id, failure]] = c.failed as [[JsonRpcId, Omit<ChannelEnd, 'undelivered'>]];
        assert.equal(id, 2);
        assert.equal(failure.code, 'TESSERA_UPSTREAM_UNAVAILABLE');
        assert.equal(
          failure.message,
          "the MCP server's answer to tools/call ended before its result, and resuming it with Last-Event-ID did not bring it",
        );
        const resume = s.seen.find((x) => x.method === 'GET' && x.lastEventId !== undefined);
        assert.ok(resume, 'a resumption was tried');
        assert.equal(resume.res.statusCode, 405);
        assert.equal(
          c.messages.some((m) => m.id === 2),
          false,
          'no answer was made up',
        );

        assert.ok(c.channel.send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'touch' } }));
        await waitFor(() => c.messages.some((m) => m.id === 3), 'the next call’s answer');
        assert.match(JSON.stringify(c.messages.find((m) => m.id === 3)), /run 2/);
        assert.deepEqual(c.ends, [], 'the channel is still open');
        assert.equal(c.failed.length, 1);
      } finally {
        await c.channel.close();
        await c.transport.close();
        await s.close();
      }
    },
  );
});

describe('a session the server forgot', () => {
  test('a 404 to the POST of a request: served once, on a new session', HANG_GUARD, async () => {
    const s = await startLegacyServer();
    const { h, url, token } = await startBridge(s);
    try {
      assert.equal((await touch(url, token, 'c1')).status, 200);
      await waitFor(() => openGets(s).length === 1, 'the bridge’s GET stream');
      const [oldGet] = openGets(s);
      const first = s.minted[0]!;
      s.forget(first);

      const again = await touch(url, token, 'c2');
      assert.equal(again.status, 200);
      assert.equal(again.answer.id, 'c2');
      assert.match(JSON.stringify(again.answer.result?.content), /run 2/);
      assert.equal(s.runs, 2, 'the tool ran once for each call');
      assert.equal(s.count('POST', 'initialize'), 2, 'a second initialize');
      const second = s.minted[1]!;
      assert.deepEqual(
        s.seen.filter((x) => x.rpc === 'tools/call').map((x) => [x.session, x.res.statusCode]),
        [
          [first, 200],
          [first, 404],
          [second, 200],
        ],
      );
      await waitFor(() => oldGet!.closed, 'the forgotten session’s GET to be let go');
      const calls = h.audit.filter((a) => a.method === 'tools/call');
      assert.deepEqual(
        calls.map((a) => a.outcome),
        ['ok', 'ok'],
        'the client saw two calls, both served',
      );
    } finally {
      await h.close();
      await s.close();
    }
  });

  test(
    'a session the server closed: its GET’s 404 ends the channel, and the next call opens a new one',
    HANG_GUARD,
    async () => {
      const s = await startLegacyServer();
      const { h, url, token } = await startBridge(s);
      try {
        assert.equal((await touch(url, token, 'c1')).status, 200);
        await waitFor(() => openGets(s).length === 1, 'the bridge’s GET stream');
        const first = s.minted[0]!;
        await s.transport(first).close();
        await waitFor(
          () => s.seen.some((x) => x.method === 'GET' && x.session === first && x.res.statusCode === 404),
          'the GET to find the session gone',
        );
        const again = await touch(url, token, 'c2');
        assert.equal(again.status, 200);
        assert.equal(s.runs, 2);
        assert.deepEqual(
          s.seen.filter((x) => x.rpc === 'tools/call').map((x) => x.session),
          [first, s.minted[1]],
          'nothing was sent to the closed session',
        );
      } finally {
        await h.close();
        await s.close();
      }
    },
  );

  test(
    'a request the server may have run is never sent again: -31004 when its session ends under it',
    HANG_GUARD,
    async () => {
      const s = await startLegacyServer();
      const { h, url, token } = await startBridge(s);
      try {
        const call = await modernCall(url, token, 'v', 'tools/call', { name: 'vanish', arguments: {} });
        assert.equal(call.status, 502);
        assert.equal(call.answer.id, 'v');
        assert.equal(call.answer.error?.code, -31004);
        // At once, from its cut answer stream: not at the request timeout, nor at the GET's next 404.
        assert.match(call.answer.error?.message ?? '', /answer to tools\/call ended before its result/);
        assert.equal(s.runs, 1);
        assert.equal(s.count('POST', 'tools/call'), 1, 'sent once');
        assert.equal(s.count('POST', 'initialize'), 1, 'no new session for it');
      } finally {
        await h.close();
        await s.close();
      }
    },
  );
});

describe('the channel on its own', () => {
  test(
    'a GET that keeps failing is given up after maxFailures in a row; requests still work',
    HANG_GUARD,
    () =>
      withChannel({ getStatus: 503 }, { baseMs: 1, maxMs: 5, maxFailures: 3 }, {}, async (s, c) => {
        await waitFor(() => c.logs.some((l) => l.level === 'warn'), 'the reader to give up');
        const warn = c.logs.find((l) => l.level === 'warn')!;
        assert.equal(warn.msg, 'gave up on the MCP server’s GET stream');
        assert.deepEqual(warn.fields, { test: 'channel', failures: 3, reason: 'HTTP 503' });
        assert.equal(s.count('GET'), 3);
        assert.ok(c.channel.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'touch' } }));
        await waitFor(() => c.messages.some((m) => m.id === 2), 'the call’s answer');
        assert.match(JSON.stringify(c.messages.find((m) => m.id === 2)), /run 1/);
        assert.deepEqual(c.ends, [], 'the channel is still open');
        assert.equal(s.count('GET'), 3, 'and tries no more');
      }),
  );

  test(
    'a server that holds the GET’s answer delays initialized only by streamOpenWaitMs; requests before it keep their order',
    HANG_GUARD,
    () =>
      withChannel(
        { holdGet: true },
        { baseMs: 1, maxMs: 5, maxFailures: 3 },
        { streamOpenWaitMs: 100 },
        async (s, c) => {
          // Sent right after initialized: it must not overtake it.
          assert.ok(
            c.channel.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'touch' } }),
          );
          await waitFor(() => c.messages.some((m) => m.id === 2), 'the call’s answer');
          assert.deepEqual(posted(s), ['initialize', 'notifications/initialized', 'tools/call']);
          const late = 'the MCP server has not answered the GET stream yet; initializing anyway';
          assert.ok(c.logs.some((l) => l.msg === late));
          assert.equal(s.count('GET'), 1, 'the held GET is still the one stream');
          assert.deepEqual(c.ends, []);
        },
      ),
  );

  test(
    'a server that refuses the GET before initialized gets it again after: the stream opens',
    HANG_GUARD,
    () =>
      withChannel({ refuseEarlyGet: true }, { baseMs: 50, maxMs: 100, maxFailures: 3 }, {}, async (s, c) => {
        await waitFor(() => openGets(s).length === 1, 'the GET stream');
        const gets = s.seen.filter((x) => x.method === 'GET');
        assert.equal(gets[0]!.res.statusCode, 400, 'the first, before initialized, refused');
        assert.equal(gets.length, 2, 'tried once more, after its backoff, when initialized had gone out');
        assert.deepEqual(posted(s), ['initialize', 'notifications/initialized']);
        // The stream carries what the server sends.
        s.mcp(s.minted[0]!).sendToolListChanged();
        const changed = () => c.messages.some((m) => m.method === 'notifications/tools/list_changed');
        await waitFor(changed, 'the list change');
        assert.deepEqual(c.ends, []);
      }),
  );

  test(
    'closing the channel lets what was already sent go out first: a cancellation reaches the server before the DELETE',
    HANG_GUARD,
    () =>
      withChannel({}, { baseMs: 50, maxMs: 100, maxFailures: 3 }, {}, async (s, c) => {
        await waitFor(() => openGets(s).length === 1, 'the GET stream');
        const call = { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'wait' } };
        assert.ok(c.channel.send(call));
        await waitFor(() => s.runs === 1, 'the tool to run');
        // What a session's close does with a request still running: cancel it, then close the channel.
        const reason = 'session closed';
        assert.ok(
          c.channel.send({
            jsonrpc: '2.0',
            method: 'notifications/cancelled',
            params: { requestId: 2, reason },
          }),
        );
        await c.channel.close();
        const order = s.seen.filter((x) => x.method === 'DELETE' || x.rpc === 'notifications/cancelled');
        assert.deepEqual(
          order.map((x) => x.rpc ?? x.method),
          ['notifications/cancelled', 'DELETE'],
        );
        assert.equal(s.cancelled, 1, 'the server stopped the tool');
        assert.equal(c.channel.send({ jsonrpc: '2.0', method: 'notifications/initialized' }), false);
      }),
  );

  test(
    'a server that never takes a notification holds up the close only for closeDrainMs; then it is cut',
    HANG_GUARD,
    () =>
      withChannel(
        { holdPosts: 'notifications/cancelled' },
        { baseMs: 50, maxMs: 100, maxFailures: 3 },
        { closeDrainMs: 100 },
        async (s, c) => {
          const params = { requestId: 7, reason: 'gone' };
          assert.ok(c.channel.send({ jsonrpc: '2.0', method: 'notifications/cancelled', params }));
          await waitFor(() => s.count('POST', 'notifications/cancelled') === 1, 'the notification’s POST');
          // The guard (HANG_GUARD) is far longer than the drain: resolving at all shows the cut.
          await c.channel.close();
          await c.channel.exit;
          const held = s.seen.find((x) => x.rpc === 'notifications/cancelled')!;
          await waitFor(() => held.closed, 'the held POST to be cut');
          assert.equal(s.count('DELETE'), 1, 'and the session was deleted');
          assert.deepEqual(
            c.ends.map((e) => e.message),
            ['the session was closed'],
          );
        },
      ),
  );

  test(
    'closing the channel during the wait before a reconnection ends the wait and the session',
    HANG_GUARD,
    // A wait far longer than the test's guard: close() resolving proves the timer went with the channel.
    () =>
      withChannel(
        { getStatus: 503 },
        { baseMs: 600_000, maxMs: 600_000, maxFailures: 3 },
        {},
        async (s, c) => {
          await waitFor(
            () => c.logs.some((l) => l.msg === 'reopening the MCP server’s GET stream'),
            'the reader to start waiting',
          );
          await c.channel.close();
          await c.channel.exit;
          assert.deepEqual(
            c.ends.map((e) => [e.code, e.message]),
            [['TESSERA_UPSTREAM_EXITED', 'the session was closed']],
          );
          assert.equal(s.count('GET'), 1);
          assert.deepEqual(
            s.seen.filter((x) => x.method === 'DELETE').map((x) => x.session),
            [s.minted[0]],
          );
          assert.equal(c.channel.send({ jsonrpc: '2.0', method: 'notifications/initialized' }), false);
        },
      ),
  );
});
