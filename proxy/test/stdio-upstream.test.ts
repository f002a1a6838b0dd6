/**
 * The stdio upstream over real sockets and real processes: the reference MCP server for the happy
 * path, and a scripted fixture (`fixtures/stdio-fixture.mjs`) for the faults.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { spawnRecord } from '../src/audit/spawn-record.ts';
import type { StdioSpawnEvent } from '../src/upstream/stdio-channel.ts';
import type { StdioUpstreamOptions } from '../src/upstream/stdio-upstream.ts';
import {
  alive,
  call,
  EVERYTHING,
  FIXTURE,
  type Harness,
  initialize,
  post,
  request,
  sseEvents,
  startProxy,
  waitFor,
} from './fixtures/stdio-harness.ts';

const HANG_GUARD = { timeout: 30_000 };
const harnesses: Harness[] = [];
async function proxy(options: Partial<StdioUpstreamOptions> = {}): Promise<Harness> {
  const h = await startProxy(options);
  harnesses.push(h);
  return h;
}
const logged = (h: Harness, msg: string, match: (f: Record<string, unknown>) => boolean = () => true) =>
  h.logs.some((l) => l.msg === msg && match(l.fields));
async function pidOf(h: Harness, session: string): Promise<number> {
  const { body } = await call(h, 'pid', 'fixture/pid', undefined, { session });
  return body.result?.pid as number;
}

after(async () => {
  await Promise.all(harnesses.map((h) => h.close()));
});

describe('stdio upstream with @modelcontextprotocol/server-everything', () => {
  test(
    'every spawn is reported with its command, argv, pid, principal and session, and audited as tessera/spawn',
    HANG_GUARD,
    async () => {
      const spawns: StdioSpawnEvent[] = [];
      const h = await proxy({ onSpawn: (s) => spawns.push(s) });
      const params = {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 't', version: '1' },
      };
      const a = await post(
        h,
        { jsonrpc: '2.0', id: 1, method: 'initialize', params },
        { principal: 'alice', user: 'alice@example.com' },
      );
      const b = await post(h, { jsonrpc: '2.0', id: 1, method: 'initialize', params }, { principal: 'bob' });
      assert.equal(a.status, 200);
      assert.equal(b.status, 200);
      assert.equal(spawns.length, 2);
      assert.deepEqual(
        spawns.map((s) => [s.context.principal, s.context.session]),
        [
          ['alice', a.headers.get('mcp-session-id')],
          ['bob', b.headers.get('mcp-session-id')],
        ],
      );
      for (const s of spawns) {
        assert.equal(s.command, process.execPath);
        assert.deepEqual(s.args, [FIXTURE]);
        assert.ok(Number.isInteger(s.pid));
      }
      const record = spawnRecord(spawns[0]!);
      assert.equal(record.method, 'tessera/spawn');
      assert.equal(record.user, 'alice@example.com', 'named as in the requests’ events, not by subject');
      assert.equal(spawnRecord(spawns[1]!).user, 'bob', 'a principal without another name');
      assert.equal(record.target, process.execPath);
      assert.equal(record.outcome, 'ok');
      assert.equal(record.sessionId, a.headers.get('mcp-session-id'));
      assert.deepEqual(JSON.parse(record.reason), { args: [FIXTURE], pid: spawns[0]!.pid });
      // A command that cannot start is audited as an error.
      const failed = spawnRecord({
        command: '/nonexistent',
        args: [],
        pid: undefined,
        context: { stateless: 'x' },
      });
      assert.equal(failed.outcome, 'error');
      assert.equal(failed.sessionId, '');
    },
  );

  test('initialize, initialized, tools/list, tools/call echo, DELETE', HANG_GUARD, async () => {
    const h = await proxy({ command: process.execPath, args: [EVERYTHING, 'stdio'] });
    // 1. initialize creates a session with a random visible-ASCII id.
    const params = {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'test', version: '1' },
    };
    const init = await post(h, { jsonrpc: '2.0', id: 1, method: 'initialize', params });
    assert.equal(init.status, 200);
    assert.match(init.headers.get('content-type') ?? '', /^application\/json/);
    const session = init.headers.get('mcp-session-id') ?? '';
    assert.match(session, /^[\x21-\x7e]{16,}$/);
    const initBody = (await init.json()) as { id: number; result: { serverInfo: { name: string } } };
    assert.equal(initBody.id, 1);
    assert.ok(initBody.result.serverInfo.name);
    // 2. notifications/initialized is accepted without a body.
    const initialized = await post(h, { jsonrpc: '2.0', method: 'notifications/initialized' }, { session });
    assert.equal(initialized.status, 202);
    assert.equal(await initialized.text(), '');
    // 3. tools/list includes echo.
    const list = await call(h, 2, 'tools/list', {}, { session });
    assert.equal(list.status, 200);
    assert.ok((list.body.result?.tools as { name: string }[] | undefined)?.some((t) => t.name === 'echo'));
    // 4. tools/call echo echoes.
    const echo = await call(h, 3, 'tools/call', { name: 'echo', arguments: { message: 'hi' } }, { session });
    assert.equal(echo.status, 200);
    assert.equal(echo.body.id, 3);
    assert.match((echo.body.result?.content as { text: string }[] | undefined)?.[0]?.text ?? '', /hi/);
    // 5. DELETE ends the session; the id is then unknown.
    assert.equal((await request(h, 'DELETE', { session })).status, 204);
    assert.equal((await call(h, 4, 'tools/list', {}, { session })).status, 404);
  });
});

describe('stdio upstream with the scripted fixture', () => {
  test(
    'in a session, an invalid or unsupported MCP-Protocol-Version gets 400; a legacy one or none is served',
    HANG_GUARD,
    async () => {
      const h = await proxy();
      const session = await initialize(h);
      for (const protocolVersion of ['garbage', '1999-01-01', '2025-12-01']) {
        const r = await call(h, 5, 'fixture/echo', {}, { session, protocolVersion });
        assert.equal(r.status, 400, protocolVersion);
        assert.equal(r.body.id, 5);
        assert.match(String(r.body.error?.message), /unsupported MCP-Protocol-Version/);
      }
      for (const protocolVersion of ['2025-11-25', '2025-06-18', undefined]) {
        const r = await call(h, 6, 'fixture/echo', {}, { session, protocolVersion });
        assert.equal(r.status, 200, String(protocolVersion));
        assert.ok(r.body.result, String(protocolVersion));
      }
    },
  );

  test('sessions are required, bound to their principal, and unknown ones are 404', HANG_GUARD, async () => {
    const h = await proxy();
    const session = await initialize(h, 'alice');
    const missing = await call(h, 1, 'fixture/echo', {}, {});
    assert.equal(missing.status, 400);
    assert.equal(missing.body.id, 1);
    const unknown = await call(h, 2, 'fixture/echo', {}, { session: 'no-such-session' });
    const foreign = await call(h, 2, 'fixture/echo', {}, { session, principal: 'mallory' });
    assert.equal(unknown.status, 404);
    assert.deepEqual(foreign, unknown, 'another principal gets the very same answer as an unknown id');
    const own = await call(h, 3, 'fixture/echo', { a: 1 }, { session, principal: 'alice' });
    assert.deepEqual(own, { status: 200, body: { jsonrpc: '2.0', id: 3, result: { params: { a: 1 } } } });
    assert.notEqual(await initialize(h, 'alice'), session, 'each initialize gets a new session');
    assert.equal((await request(h, 'DELETE', { session: 'no-such-session' })).status, 404);
    assert.equal((await request(h, 'DELETE', {})).status, 400);
  });

  test('notifications and client responses get 202 and reach the child', HANG_GUARD, async () => {
    const h = await proxy();
    const session = await initialize(h);
    const notification = await post(h, { jsonrpc: '2.0', method: 'notifications/initialized' }, { session });
    assert.equal(notification.status, 202);
    const response = await post(h, { jsonrpc: '2.0', id: 'srv-1', result: { roots: [] } }, { session });
    assert.equal(response.status, 202);
    const { body } = await call(h, 9, 'fixture/received', undefined, { session });
    assert.deepEqual(body.result?.received, [
      'initialize',
      'notifications/initialized',
      'response:srv-1',
      'fixture/received',
    ]);
  });

  test('a JSON-RPC error from the server is passed through and reported', HANG_GUARD, async () => {
    const h = await proxy();
    const session = await initialize(h);
    const { status, body } = await call(h, 'e', 'fixture/error', undefined, { session });
    assert.equal(status, 200);
    assert.deepEqual(body.error, { code: -32001, message: 'fixture error' });
    assert.equal(h.results.at(-1)?.errorCode, -32001);
  });

  test('a stdout line that is not a JSON object is logged and not forwarded', HANG_GUARD, async () => {
    const h = await proxy();
    const session = await initialize(h);
    const { status, body } = await call(h, 5, 'fixture/garbage', undefined, { session });
    assert.deepEqual(
      { status, body },
      { status: 200, body: { jsonrpc: '2.0', id: 5, result: { ok: true } } },
    );
    assert.ok(h.logs.some((l) => l.level === 'warn' && l.fields.line === 'this is not json'));
    assert.ok(h.logs.some((l) => l.level === 'warn' && l.fields.line === '[1,2,3]'));
    assert.equal((await call(h, 6, 'fixture/echo', {}, { session })).status, 200);
  });

  test('stderr lines go to the log, not to the client', HANG_GUARD, async () => {
    const h = await proxy();
    const session = await initialize(h);
    const { status } = await call(h, 1, 'fixture/stderr', { text: 'diagnostic 42' }, { session });
    assert.equal(status, 200);
    assert.ok(logged(h, 'MCP server stderr', (f) => f.line === 'fixture ready'));
    await waitFor(() => logged(h, 'MCP server stderr', (f) => f.line === 'diagnostic 42'), 'the stderr line');
  });

  test('the GET stream carries server-initiated messages; one per session', HANG_GUARD, async () => {
    const h = await proxy({ pingIntervalMs: 50 });
    const session = await initialize(h);
    assert.equal((await request(h, 'GET', { session, accept: 'application/json' })).status, 406);
    assert.equal((await request(h, 'GET', { accept: 'text/event-stream' })).status, 400);
    const first = new AbortController();
    const stream = await request(h, 'GET', { session, accept: 'text/event-stream', signal: first.signal });
    assert.equal(stream.status, 200);
    assert.equal(stream.headers.get('content-type'), 'text/event-stream');
    assert.equal(stream.headers.get('x-accel-buffering'), 'no');
    assert.equal((await request(h, 'GET', { session, accept: 'text/event-stream' })).status, 409);
    // 1. The notification and the server request reach the stream, each with an id; pings keep it alive.
    const events = sseEvents(stream);
    assert.equal((await call(h, 1, 'fixture/notify', { text: 'hello' }, { session })).status, 200);
    const seen: { method: string; id: string | undefined }[] = [];
    let pinged = false;
    while (seen.length < 2 || !pinged) {
      const { value } = await events.next();
      assert.ok(value, 'the stream ended early');
      if (value.comment === 'ping') pinged = true;
      else seen.push({ method: JSON.parse(value.data).method, id: value.id });
    }
    assert.deepEqual(
      seen.map((e) => e.method),
      ['notifications/message', 'roots/list'],
    );
    assert.ok(seen.every((e) => e.id !== undefined) && seen[0].id !== seen[1].id);
    // 2. Closing the stream keeps the session; a new stream may open.
    const settled = h.results.length;
    first.abort();
    await waitFor(() => h.results.length > settled, 'the stream to end');
    assert.equal(h.results[settled].status, 200);
    assert.ok(h.results[settled].responseBytes > 0);
    const again = new AbortController();
    const reopened = await request(h, 'GET', { session, accept: 'text/event-stream', signal: again.signal });
    assert.equal(reopened.status, 200);
    assert.equal((await call(h, 2, 'fixture/echo', {}, { session })).status, 200);
    again.abort();
  });

  test('progress travels over SSE when the request has a progress token', HANG_GUARD, async () => {
    const h = await proxy();
    const session = await initialize(h);
    const params = { _meta: { progressToken: 'tok' } };
    const res = await post(h, { jsonrpc: '2.0', id: 7, method: 'fixture/progress', params }, { session });
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const messages = [];
    for await (const event of sseEvents(res)) if (event.data) messages.push(JSON.parse(event.data));
    assert.deepEqual(
      messages.map((m) => m.method ?? `response:${m.id}`),
      ['notifications/progress', 'notifications/progress', 'response:7'],
    );
    assert.deepEqual(messages[2].result, { done: true });
    // Regression: ending the SSE answer must not read as the client leaving (which would cancel it).
    const received = await call(h, 9, 'fixture/received', undefined, { session });
    assert.deepEqual(received.body.result?.cancelled, []);
    assert.ok(h.results.every((r) => r.reason === ''));
    // Without SSE in Accept the same request is answered with JSON, and progress is not relayed on it.
    const json = await post(
      h,
      { jsonrpc: '2.0', id: 8, method: 'fixture/progress', params },
      { session, accept: 'application/json' },
    );
    assert.match(json.headers.get('content-type') ?? '', /^application\/json/);
    assert.deepEqual(((await json.json()) as { result: unknown }).result, { done: true });
  });

  test('a client disconnect sends notifications/cancelled to the child', HANG_GUARD, async () => {
    const h = await proxy();
    const session = await initialize(h);
    const controller = new AbortController();
    const pending = post(
      h,
      { jsonrpc: '2.0', id: 'slow', method: 'fixture/hang' },
      { session, signal: controller.signal },
    );
    await waitFor(
      () => logged(h, 'MCP server stderr', (f) => f.line === 'hanging on "slow"'),
      'the child to get the request',
    );
    controller.abort();
    await assert.rejects(pending);
    await waitFor(() => h.results.some((r) => r.reason === 'client disconnected'), 'the forward to settle');
    const { body } = await call(h, 'r', 'fixture/received', undefined, { session });
    assert.deepEqual(body.result?.cancelled, [{ requestId: 'slow', reason: 'client disconnected' }]);
  });

  test('a request the server never answers times out with a JSON-RPC error', HANG_GUARD, async () => {
    // Long enough for the child to start under load (initialize is timed too), short for a hang.
    const h = await proxy({ requestTimeoutMs: 1500 });
    const session = await initialize(h);
    const { status, body } = await call(h, 11, 'fixture/hang', undefined, { session });
    assert.equal(status, 504);
    assert.equal(body.id, 11);
    assert.equal(body.error?.code, -31004);
    const received = await call(h, 12, 'fixture/received', undefined, { session });
    assert.deepEqual(received.body.result?.cancelled, [{ requestId: 11, reason: 'request timed out' }]);
  });

  test('a request already in flight with the same id is refused', HANG_GUARD, async () => {
    const h = await proxy();
    const session = await initialize(h);
    const controller = new AbortController();
    const first = post(
      h,
      { jsonrpc: '2.0', id: 'dup', method: 'fixture/hang' },
      { session, signal: controller.signal },
    );
    await waitFor(
      () => logged(h, 'MCP server stderr', (f) => f.line === 'hanging on "dup"'),
      'the first request',
    );
    assert.equal((await call(h, 'dup', 'fixture/echo', {}, { session })).status, 400);
    controller.abort();
    await assert.rejects(first);
  });

  test('a crash mid-request answers the request with an error and ends the session', HANG_GUARD, async () => {
    const h = await proxy();
    const session = await initialize(h);
    const controller = new AbortController();
    const stream = await request(h, 'GET', {
      session,
      accept: 'text/event-stream',
      signal: controller.signal,
    });
    const { status, body } = await call(h, 13, 'fixture/crash', undefined, { session });
    assert.equal(status, 502);
    assert.equal(body.id, 13);
    assert.equal(body.error?.code, -31004);
    assert.match(body.error?.message ?? '', /exited \(code 3, signal none\)/);
    for await (const _ of sseEvents(stream)); // the GET stream is ended, not left hanging
    const exit = h.logs.find((l) => l.msg === 'MCP server process exited unexpectedly');
    assert.deepEqual(exit?.fields.stderr, ['fixture ready', 'crashing now']);
    assert.equal((await call(h, 14, 'fixture/echo', {}, { session })).status, 404);
  });

  test('an over-long stdout line kills the child', HANG_GUARD, async () => {
    const h = await proxy({ maxLineBytes: 4096 });
    const session = await initialize(h);
    const { status, body } = await call(h, 15, 'fixture/long-line', { size: 10_000 }, { session });
    assert.equal(status, 502);
    assert.match(body.error?.message ?? '', /signal SIGKILL.*longer than 4096 bytes/);
    assert.equal((await call(h, 16, 'fixture/echo', {}, { session })).status, 404);
  });

  test('maxSessions is enforced; DELETE frees a slot and stops the child', HANG_GUARD, async () => {
    const h = await proxy({ maxSessions: 2 });
    const a = await initialize(h);
    await initialize(h);
    const refused = await call(h, 0, 'initialize', {}, {});
    assert.equal(refused.status, 503);
    assert.equal(refused.body.error?.code, -31004);
    const pid = await pidOf(h, a);
    assert.equal((await request(h, 'DELETE', { session: a })).status, 204);
    assert.equal((await call(h, 1, 'fixture/echo', {}, { session: a })).status, 404);
    // 1. The slot is freed once the deleted session's child has exited, not merely when the session ends.
    await waitFor(() => logged(h, 'MCP server process exited', (f) => f.pid === pid), 'the child to exit');
    assert.equal(alive(pid), false);
    await initialize(h);
  });

  test('an initialize the server rejects creates no session', HANG_GUARD, async () => {
    const h = await proxy({ args: [FIXTURE, '--reject-initialize'] });
    const res = await post(h, { jsonrpc: '2.0', id: 0, method: 'initialize', params: {} });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('mcp-session-id'), null);
    assert.equal(((await res.json()) as { error: { code: number } }).error.code, -32602);
    await waitFor(() => logged(h, 'MCP server process exited'), 'the child to be closed');
  });

  test('a command that cannot start answers 502', HANG_GUARD, async () => {
    const h = await proxy({ command: '/nonexistent/tessera-mcp-server', args: [] });
    const { status, body } = await call(h, 0, 'initialize', {}, {});
    assert.equal(status, 502);
    assert.match(body.error?.message ?? '', /could not start the MCP server: .*ENOENT/);
  });

  test('an idle session is closed', HANG_GUARD, async () => {
    const h = await proxy({ idleTimeoutMs: 100 });
    const session = await initialize(h);
    // The pid comes from the log: a request could itself arrive after the short idle timeout.
    const pid = h.logs.find((l) => l.msg === 'MCP server process started')?.fields.pid as number;
    await waitFor(() => logged(h, 'closing idle session'), 'the idle timeout');
    await waitFor(() => !alive(pid), 'the idle child to exit');
    assert.equal((await call(h, 1, 'fixture/echo', {}, { session })).status, 404);
  });

  test('close() escalates to SIGKILL for a child that ignores stdin and SIGTERM', HANG_GUARD, async () => {
    const h = await proxy({ args: [FIXTURE, '--stubborn'], closeTimeoutMs: 100, killTimeoutMs: 100 });
    const deleted = await initialize(h);
    const deletedPid = await pidOf(h, deleted);
    const session = await initialize(h);
    const pid = await pidOf(h, session);
    // 1. A deleted session is gone at once, but its child is still shutting down; close() waits for it too.
    assert.equal((await request(h, 'DELETE', { session: deleted })).status, 204);
    await h.upstream.close();
    for (const p of [deletedPid, pid]) {
      assert.ok(logged(h, 'MCP server process exited', (f) => f.pid === p && f.signal === 'SIGKILL'));
      assert.throws(() => process.kill(p, 0), { code: 'ESRCH' });
    }
    const after = await call(h, 0, 'initialize', {}, {});
    assert.equal(after.status, 503);
  });

  test('no exchange leaves an abort listener behind', () => {
    const counts = harnesses.flatMap((h) => h.leftoverListeners);
    assert.ok(counts.length > 50);
    assert.deepEqual(
      counts.filter((n) => n !== 0),
      [],
    );
  });
});
