/**
 * Upstreams that only speak the deprecated HTTP+SSE transport (2024-11-05), through the proxy that keeps
 * offering Streamable HTTP: a fixture built on the MCP SDK's `SSEServerTransport` for the good and bad
 * cases, and server-everything in its `sse` mode for interop; clients are the TypeScript SDK's Streamable
 * HTTP client (legacy sessions) and the hand-rolled 2026-07-28 client (stateless requests).
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { sseLegacyChannels } from '../src/upstream/sse-legacy-channel.ts';
import { createSseLegacyUpstream } from '../src/upstream/sse-legacy-upstream.ts';
import { type SseLegacyServer, startSseLegacyServer } from './fixtures/sse-legacy-server.ts';
import { waitFor } from './fixtures/stdio-harness.ts';
import { startEverythingHttp } from './helpers/everything-http.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { legacyInitialize } from './helpers/legacy-initialize.ts';
import { modernCall } from './helpers/modern-client.ts';

const HANG_GUARD = { timeout: 60_000 };
const noLog = () => {};

async function connect(h: Harness): Promise<{ client: Client; transport: StreamableHTTPClientTransport }> {
  const client = new Client({ name: 'sse-legacy-test', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), {
    requestInit: { headers: { authorization: `Bearer ${await h.token()}` } },
  });
  await client.connect(transport);
  return { client, transport };
}

async function rawPost(
  h: Harness,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
) {
  return fetch(`${h.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await h.token()}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
    signal,
  });
}

const initialize = legacyInitialize(0);

describe('an HTTP+SSE fixture server through the proxy', () => {
  let server: SseLegacyServer;
  let h: Harness;

  before(async () => {
    server = await startSseLegacyServer();
    h = await startHarness({ upstream: createSseLegacyUpstream({ url: server.url, log: noLog }) });
  });
  after(async () => {
    await h?.close();
    await server?.close();
  });

  test(
    'initialize, tools/list, a tool with progress and a prompt with the SDK client',
    HANG_GUARD,
    async () => {
      const { client } = await connect(h);
      const { tools } = await client.listTools();
      assert.deepEqual(tools.map((t) => t.name).sort(), ['echo', 'hang', 'progress']);
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'over sse' } });
      assert.match(JSON.stringify(echo.content), /echo: over sse/);
      const progress: number[] = [];
      const done = await client.callTool({ name: 'progress', arguments: { steps: 3 } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
      });
      assert.match(JSON.stringify(done.content), /done after 3 steps/);
      assert.deepEqual(progress, [1, 2, 3]);
      const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
      assert.match(JSON.stringify(prompt.messages), /Hello, Ada/);
      assert.equal(server.open, 1, 'one upstream SSE connection for the session');
      await client.close();
      const call = h.audit.find((a) => a.method === 'tools/call' && a.target === 'echo');
      assert.equal(call?.outcome, 'ok');
      assert.ok(call?.sessionId, 'the session the proxy minted is audited');
    },
  );

  test('DELETE ends the session and its upstream connection', HANG_GUARD, async () => {
    const open = server.open;
    const { client, transport } = await connect(h);
    await waitFor(() => server.open === open + 1, 'the connection');
    await transport.terminateSession();
    await waitFor(() => server.open === open, 'the upstream connection to close');
    await client.close();
  });

  test('an unknown session answers 404', HANG_GUARD, async () => {
    const res = await rawPost(
      h,
      { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      { 'mcp-session-id': 'nope' },
    );
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { id: number }).id, 1);
  });

  test('a client that leaves sends notifications/cancelled upstream', HANG_GUARD, async () => {
    const { client, transport } = await connect(h);
    const abort = new AbortController();
    const hangs = server.hangs;
    const call = rawPost(
      h,
      { jsonrpc: '2.0', id: 'slow', method: 'tools/call', params: { name: 'hang', arguments: {} } },
      { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' },
      abort.signal,
    );
    await waitFor(() => server.hangs > hangs, 'the call to arrive');
    abort.abort();
    await assert.rejects(call);
    await waitFor(() => server.cancelled.length > 0, 'the cancellation');
    assert.deepEqual(server.cancelled.at(-1), { requestId: 'slow', reason: 'client disconnected' });
    await client.close();
  });

  test('stateless requests use a warm connection the proxy initialized', HANG_GUARD, async () => {
    const token = await h.token();
    const discover = await modernCall(`${h.url}/mcp`, token, 1, 'server/discover');
    assert.equal(
      (
        (discover.answer.result?._meta as Record<string, unknown> | undefined)?.[
          'io.modelcontextprotocol/serverInfo'
        ] as { name: string } | undefined
      )?.name,
      'sse-legacy-fixture',
    );
    const r = await modernCall(`${h.url}/mcp`, token, 2, 'tools/call', {
      name: 'progress',
      arguments: { steps: 2 },
      _meta: { progressToken: 'tok' },
    });
    assert.equal(r.answer.id, 2);
    assert.match(JSON.stringify(r.answer.result?.content), /done after 2 steps/);
    const tokens = r.messages.filter((m) => m.method === 'notifications/progress');
    assert.deepEqual(
      tokens.map((m) => (m.params as { progressToken: unknown }).progressToken),
      ['tok', 'tok'],
    );
  });

  test('the upstream dying mid-request fails the request with -31004', HANG_GUARD, async () => {
    const { client, transport } = await connect(h);
    const hangs = server.hangs;
    const call = rawPost(
      h,
      { jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'hang', arguments: {} } },
      { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' },
    );
    await waitFor(() => server.hangs > hangs, 'the call to arrive');
    server.kill();
    const res = await call;
    assert.equal(res.status, 502);
    const body = (await res.json()) as { id: number; error: { code: number; message: string } };
    assert.equal(body.id, 9);
    assert.equal(body.error.code, -31004);
    assert.match(body.error.message, /SSE stream/);
    const again = await rawPost(
      h,
      { jsonrpc: '2.0', id: 10, method: 'tools/list' },
      { 'mcp-session-id': transport.sessionId!, 'mcp-protocol-version': '2025-11-25' },
    );
    assert.equal(again.status, 404, 'the session ended with its connection');
    await client.close().catch(() => {});
  });
});

describe('an HTTP+SSE server that is slow to take messages, or refuses some', () => {
  const SLOW_MS = 150;
  let server: SseLegacyServer;
  let h: Harness;

  before(async () => {
    server = await startSseLegacyServer({
      postDelayMs: SLOW_MS,
      refuse: (m) => (m.method === 'notifications/refused' ? 400 : undefined),
    });
    h = await startHarness({ upstream: createSseLegacyUpstream({ url: server.url, log: noLog }) });
  });
  after(async () => {
    await h?.close();
    await server?.close();
  });

  const session = (sessionId: string) => ({
    'mcp-session-id': sessionId,
    'mcp-protocol-version': '2025-11-25',
  });

  test('a notification is answered 202 only once the server has taken it', HANG_GUARD, async () => {
    const { client, transport } = await connect(h);
    const note = { jsonrpc: '2.0', method: 'notifications/roots/list_changed', params: { _meta: { n: 1 } } };
    const res = await rawPost(h, note, session(transport.sessionId!));
    assert.equal(res.status, 202);
    assert.ok(
      server.messages.some((m) => JSON.stringify(m) === JSON.stringify(note)),
      'the server had the notification when the client was told 202',
    );
    await client.close();
  });

  test('a notification the server refuses is an error to the client, not a 202', HANG_GUARD, async () => {
    const { client, transport } = await connect(h);
    const res = await rawPost(
      h,
      { jsonrpc: '2.0', method: 'notifications/refused' },
      session(transport.sessionId!),
    );
    assert.equal(res.status, 502);
    const body = (await res.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, -31004);
    assert.ok(!server.received.includes('notifications/refused'));
    const audited = h.audit.filter((e) => e.method === 'notifications/refused');
    assert.deepEqual(
      audited.map((e) => [e.httpStatus, e.outcome]),
      [[502, 'error']],
    );
    await client.close().catch(() => {});
  });

  test('a graceful close lets the messages already sent reach the server first', HANG_GUARD, async () => {
    const open = sseLegacyChannels({ url: server.url, log: noLog });
    const ended: string[] = [];
    const channel = open(
      { onMessage: () => {}, onEnd: (end) => ended.push(end.message), onFailed: () => {} },
      { session: 'drain-test' },
    );
    const notes = [1, 2, 3].map((n) => ({ jsonrpc: '2.0', method: 'notifications/progress', params: { n } }));
    for (const note of notes) assert.equal(channel.send(note), true);
    await channel.close();
    const arrived = server.messages.filter((m) => m.method === 'notifications/progress').map((m) => m.params);
    assert.deepEqual(arrived, [{ n: 1 }, { n: 2 }, { n: 3 }], 'in order, none lost');
    assert.equal(channel.send(notes[0]), false, 'a closed channel takes nothing more');
    assert.deepEqual(ended, ['the connection was closed']);
    await open.close();
  });

  test('a close waits for a stuck message no longer than closeDrainMs', HANG_GUARD, async () => {
    const stuck = await startSseLegacyServer({ postDelayMs: 60_000 });
    const open = sseLegacyChannels({ url: stuck.url, log: noLog, closeDrainMs: 50 });
    const channel = open({ onMessage: () => {}, onEnd: () => {}, onFailed: () => {} }, {});
    const taken = channel.deliver!({ jsonrpc: '2.0', method: 'notifications/progress' });
    await waitFor(() => stuck.requests.some((r) => r.method === 'POST'), 'the POST to be under way');
    await channel.close();
    assert.equal(await taken, false, 'the cut message counts as not taken');
    assert.deepEqual(stuck.messages, []);
    await open.close();
    await stuck.close();
  });
});

describe('an HTTP+SSE server announcing an endpoint on another origin', () => {
  test('is refused: the initialize fails and nothing is posted there', HANG_GUARD, async () => {
    const server = await startSseLegacyServer({ foreignEndpoint: 'http://198.51.100.7:9/messages' });
    const h = await startHarness({ upstream: createSseLegacyUpstream({ url: server.url, log: noLog }) });
    try {
      const res = await rawPost(h, initialize);
      assert.equal(res.status, 502);
      const body = (await res.json()) as { id: number; error: { code: number; message: string } };
      assert.equal(body.id, 0);
      assert.equal(body.error.code, -31004);
      assert.match(body.error.message, /another origin/);
      assert.equal(res.headers.get('mcp-session-id'), null);
    } finally {
      await h.close();
      await server.close();
    }
  });

  test('an SSE URL that does not answer with an event stream fails with -31004', HANG_GUARD, async () => {
    const server = await startSseLegacyServer();
    const url = new URL('/not-there', server.url);
    const h = await startHarness({ upstream: createSseLegacyUpstream({ url, log: noLog }) });
    try {
      const res = await rawPost(h, initialize);
      assert.equal(res.status, 502);
      assert.match(((await res.json()) as { error: { message: string } }).error.message, /HTTP 404/);
    } finally {
      await h.close();
      await server.close();
    }
  });
});

describe('server-everything in its sse mode through the proxy', () => {
  let child: ChildProcess;
  let h: Harness;

  before(async () => {
    const everything = await startEverythingHttp('sse');
    child = everything.child;
    h = await startHarness({ upstream: createSseLegacyUpstream({ url: everything.url, log: noLog }) });
  });
  after(async () => {
    await h?.close();
    child?.kill();
  });

  test('tools, a prompt, a resource and progress with the SDK client', HANG_GUARD, async () => {
    const { client } = await connect(h);
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'echo'));
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'via sse' } });
    assert.match(JSON.stringify(echo.content), /via sse/);
    const prompt = await client.getPrompt({ name: 'simple-prompt' });
    assert.ok(prompt.messages.length > 0);
    const { resources } = await client.listResources();
    const read = await client.readResource({ uri: resources[0]!.uri });
    assert.equal(read.contents[0]?.uri, resources[0]!.uri);
    const progress: number[] = [];
    const r = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress), timeout: 60_000 },
    );
    assert.match(JSON.stringify(r.content), /completed/i);
    assert.deepEqual(progress, [1, 2, 3]);
    await client.close();
  });

  test('stateless requests too', HANG_GUARD, async () => {
    const token = await h.token();
    const list = await modernCall(`${h.url}/mcp`, token, 'l', 'tools/list');
    assert.equal(list.answer.id, 'l');
    assert.ok((list.answer.result?.tools as { name: string }[] | undefined)?.some((t) => t.name === 'echo'));
  });
});
