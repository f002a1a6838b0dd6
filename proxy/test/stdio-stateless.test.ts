/**
 * Modern (2026-07-28) stateless requests to stdio MCP servers through the proxy: warm children the proxy
 * initializes itself, per principal, with ids and progress tokens rewritten. Against the real
 * server-everything and the scripted fixture for the failure cases.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { spawnRecord } from '../src/audit/spawn-record.ts';
import type { StdioSpawnEvent } from '../src/upstream/stdio-channel.ts';
import { createStdioUpstream } from '../src/upstream/stdio-upstream.ts';
import { EVERYTHING, FIXTURE, waitFor } from './fixtures/stdio-harness.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { modernCall, openListenStream } from './helpers/modern-client.ts';

const HANG_GUARD = { timeout: 60_000 };

/** A proxy in front of `args`, recording every spawn of the server. */
async function proxyFor(args: string[], probeTimeoutMs?: number) {
  const spawns: StdioSpawnEvent[] = [];
  const h = await startHarness({
    users: ['alice@example.com', 'bob@example.com'],
    upstream: createStdioUpstream({
      command: process.execPath,
      args,
      statelessPerPrincipal: 1,
      probeTimeoutMs,
      onSpawn: (s) => spawns.push(s),
    }),
  });
  const bob = await h.token({ sub: 'user-2', email: 'bob@example.com' });
  return { h, spawns, alice: await h.token(), bob };
}

describe('stateless requests to server-everything over stdio', () => {
  let h: Harness;
  let url: string;
  let token: string;

  before(async () => {
    h = await startHarness({
      upstream: createStdioUpstream({ command: process.execPath, args: [EVERYTHING, 'stdio'] }),
    });
    url = `${h.url}/mcp`;
    token = await h.token();
  });
  after(() => h?.close());

  test('server/discover is answered from the warm child’s initialize', HANG_GUARD, async () => {
    const { status, answer } = await modernCall(url, token, 1, 'server/discover');
    assert.equal(status, 200);
    assert.deepEqual(answer.result?.supportedVersions, ['2026-07-28']);
    assert.equal(answer.result?.resultType, 'complete');
    const meta = answer.result?._meta as Record<string, unknown> | undefined;
    assert.match(JSON.stringify(meta?.['io.modelcontextprotocol/serverInfo']), /everything/i);
    assert.equal(answer.result?.serverInfo, undefined, 'serverInfo lives in _meta in 2026-07-28');
    const tools = (answer.result?.capabilities as Record<string, Record<string, unknown>> | undefined)?.tools;
    assert.ok(tools);
    const resources = (answer.result?.capabilities as Record<string, Record<string, unknown>> | undefined)
      ?.resources;
    assert.equal(resources?.subscribe, true, 'listen streams deliver resource subscriptions');
  });

  test(
    'a method 2026-07-28 removed gets 404 and -32601, an unknown one too, and never a success',
    HANG_GUARD,
    async () => {
      for (const method of [
        'ping',
        'logging/setLevel',
        'resources/subscribe',
        'resources/unsubscribe',
        'initialize',
      ]) {
        const { status, answer } = await modernCall(url, token, method, method);
        assert.equal(status, 404, method);
        assert.equal(answer.error?.code, -32601, method);
        assert.equal(answer.id, method);
      }
      // Unknown to the server itself: its -32601 becomes 404 as well.
      const unknown = await modernCall(url, token, 'u', 'no/such/method');
      assert.equal(unknown.status, 404);
      assert.equal(unknown.answer.error?.code, -32601);
    },
  );

  test(
    'a protocol version the proxy does not serve gets 400 and -32022 with the supported and requested ones',
    HANG_GUARD,
    async () => {
      for (const version of ['2099-01-01', '2025-11-25']) {
        const res = await fetch(url, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'mcp-protocol-version': version,
            'mcp-method': 'tools/list',
          },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 3,
            method: 'tools/list',
            params: {
              _meta: {
                'io.modelcontextprotocol/protocolVersion': version,
                'io.modelcontextprotocol/clientCapabilities': {},
              },
            },
          }),
        });
        assert.equal(res.status, 400, version);
        const body = (await res.json()) as { id: number; error: { code: number; data: unknown } };
        assert.equal(body.id, 3);
        assert.equal(body.error.code, -32022);
        assert.deepEqual(body.error.data, { supported: ['2026-07-28'], requested: version });
      }
    },
  );

  test('tools/list, tools/call and prompts/get keep the client’s ids', HANG_GUARD, async () => {
    const list = await modernCall(url, token, 'list-1', 'tools/list');
    assert.equal(list.answer.id, 'list-1');
    assert.equal(list.answer.result?.resultType, 'complete');
    assert.ok((list.answer.result?.tools as { name: string }[] | undefined)?.some((t) => t.name === 'echo'));
    const echo = await modernCall(url, token, 7, 'tools/call', {
      name: 'echo',
      arguments: { message: 'hi' },
    });
    assert.equal(echo.answer.id, 7);
    assert.match(JSON.stringify(echo.answer.result?.content), /hi/);
    const prompt = await modernCall(url, token, 8, 'prompts/get', { name: 'simple-prompt' });
    assert.ok(((prompt.answer.result?.messages as unknown[] | undefined)?.length ?? 0) > 0);
    const call = h.audit.find((a) => a.method === 'tools/call' && a.requestId === '7');
    assert.equal(call?.outcome, 'ok');
    assert.equal(call?.sessionId, '', 'a stateless request belongs to no session');
  });

  test('concurrent requests with the same id and progress token are told apart', HANG_GUARD, async () => {
    const slow = (message: string) =>
      modernCall(url, token, 1, 'tools/call', {
        name: 'trigger-long-running-operation',
        arguments: { duration: 0.4, steps: 2 },
        _meta: { progressToken: 'p' },
        message,
      });
    const [a, b, c] = await Promise.all([slow('a'), slow('b'), modernCall(url, token, 1, 'tools/list')]);
    for (const r of [a, b]) {
      assert.equal(r.contentType, 'text/event-stream');
      const progress = r.messages.filter((m) => m.method === 'notifications/progress');
      assert.deepEqual(
        progress.map((m) => (m.params as { progressToken: unknown; progress: number }).progressToken),
        ['p', 'p'],
      );
      assert.deepEqual(
        progress.map((m) => (m.params as { progress: number }).progress),
        [1, 2],
        'each stream carries its own progress only',
      );
      assert.equal(r.answer.id, 1);
      assert.match(JSON.stringify(r.answer.result?.content), /completed/i);
    }
    assert.ok(Array.isArray(c.answer.result?.tools));
  });

  test('an unknown tool is the server’s error, with the client’s id', HANG_GUARD, async () => {
    const { answer } = await modernCall(url, token, 'x', 'tools/call', {
      name: 'no-such-tool',
      arguments: {},
    });
    assert.equal(answer.id, 'x');
    assert.ok(answer.error || answer.result?.isError, JSON.stringify(answer));
  });
});

describe('stateless requests to the scripted stdio fixture', () => {
  test(
    'warm children are reused within a principal and never shared between principals',
    HANG_GUARD,
    async () => {
      const h = await startHarness({
        users: ['alice@example.com', 'bob@example.com'],
        upstream: createStdioUpstream({
          command: process.execPath,
          args: [FIXTURE],
          statelessPerPrincipal: 1,
        }),
      });
      try {
        const alice = await h.token();
        const bob = await h.token({ sub: 'user-2', email: 'bob@example.com' });
        const pid = async (token: string) =>
          (await modernCall(`${h.url}/mcp`, token, 1, 'fixture/pid')).answer.result?.pid;
        const a1 = await pid(alice);
        const a2 = await pid(alice);
        const b1 = await pid(bob);
        assert.equal(typeof a1, 'number');
        assert.equal(a1, a2, 'the warm child is reused');
        assert.notEqual(a1, b1, 'another principal gets its own child');
        const echo = await modernCall(`${h.url}/mcp`, alice, 2, 'fixture/echo', {
          x: 1,
          _meta: { progressToken: 5, other: 'kept' },
        });
        const seen = echo.answer.result?.params as Record<string, unknown>;
        assert.equal(seen.x, 1);
        assert.deepEqual(
          seen._meta,
          { progressToken: (seen._meta as { progressToken: string }).progressToken, other: 'kept' },
          'reserved _meta keys are not forwarded',
        );
        assert.match(String((seen._meta as { progressToken: unknown }).progressToken), /^tessera-/);
      } finally {
        await h.close();
      }
    },
  );

  test('a client that leaves sends notifications/cancelled with the rewritten id', HANG_GUARD, async () => {
    const h = await startHarness({
      upstream: createStdioUpstream({ command: process.execPath, args: [FIXTURE], statelessPerPrincipal: 1 }),
    });
    try {
      const token = await h.token();
      const abort = new AbortController();
      const hanging = modernCall(`${h.url}/mcp`, token, 'slow', 'fixture/hang', {}, { signal: abort.signal });
      const received = async () =>
        (await modernCall(`${h.url}/mcp`, token, 'r', 'fixture/received')).answer.result as {
          received: string[];
          cancelled: { requestId: unknown }[];
        };
      await waitFor(
        async () => (await received()).received.includes('fixture/hang'),
        'the request to reach the child',
      );
      abort.abort();
      await assert.rejects(hanging);
      let cancelled: { requestId: unknown }[] = [];
      await waitFor(async () => {
        cancelled = (await received()).cancelled;
        return cancelled.length > 0;
      }, 'the cancellation to reach the child');
      assert.equal(cancelled.length, 1);
      assert.match(String(cancelled[0]!.requestId), /^tessera-/);
    } finally {
      await h.close();
    }
  });

  test(
    'a client that leaves while its warm child is still opening: nothing is sent for it',
    HANG_GUARD,
    async () => {
      // The first child never answers the server/discover probe, so the request waits out the probe.
      const { h, spawns, alice: token } = await proxyFor([FIXTURE, '--ignore-unknown'], 300);
      try {
        const abort = new AbortController();
        const leaving = modernCall(
          `${h.url}/mcp`,
          token,
          'gone',
          'fixture/echo',
          {},
          { signal: abort.signal },
        );
        await waitFor(() => spawns.length > 0, 'the first child');
        abort.abort();
        await assert.rejects(leaving);
        await waitFor(() => h.audit.some((e) => e.requestId === '"gone"'), 'the audit event');
        const event = h.audit.find((e) => e.requestId === '"gone"')!;
        assert.equal(event.httpStatus, 499);
        const { answer } = await modernCall(`${h.url}/mcp`, token, 'r', 'fixture/received');
        const received = (answer.result as { received: string[] }).received;
        assert.ok(received.includes('fixture/received'), 'the same warm child, once it was open');
        assert.ok(!received.includes('fixture/echo'), `the child was sent the request: ${received}`);
      } finally {
        await h.close();
      }
    },
  );

  test(
    'a server that refuses the proxy’s initialize fails the request, never silently',
    HANG_GUARD,
    async () => {
      const h = await startHarness({
        upstream: createStdioUpstream({ command: process.execPath, args: [FIXTURE, '--reject-initialize'] }),
      });
      try {
        const { status, answer } = await modernCall(`${h.url}/mcp`, await h.token(), 3, 'tools/list');
        assert.equal(status, 502);
        assert.equal(answer.id, 3);
        assert.equal(answer.error?.code, -31004);
        assert.match(answer.error?.message ?? '', /refused the proxy's initialize/);
      } finally {
        await h.close();
      }
    },
  );

  test('a crash mid-request answers the request with the catalogued error', HANG_GUARD, async () => {
    const h = await startHarness({
      upstream: createStdioUpstream({ command: process.execPath, args: [FIXTURE] }),
    });
    try {
      const { status, answer } = await modernCall(`${h.url}/mcp`, await h.token(), 4, 'fixture/crash');
      assert.equal(status, 502);
      assert.equal(answer.id, 4);
      assert.match(answer.error?.message ?? '', /exited/);
      const again = await modernCall(`${h.url}/mcp`, await h.token(), 5, 'fixture/pid');
      assert.equal(typeof again.answer.result?.pid, 'number', 'a new warm child takes its place');
    } finally {
      await h.close();
    }
  });

  test(
    'a crash fails every request in flight on the shared warm child, none sent again, each audited',
    HANG_GUARD,
    async () => {
      const { h, alice: token } = await proxyFor([FIXTURE]);
      try {
        const url = `${h.url}/mcp`;
        const first = (await modernCall(url, token, 'pid', 'fixture/pid')).answer.result?.pid;
        const hanging = modernCall(url, token, 'h', 'fixture/hang');
        await waitFor(async () => {
          const { answer } = await modernCall(url, token, 'r', 'fixture/received');
          return (answer.result as { received: string[] }).received.includes('fixture/hang');
        }, 'the first request to reach the child');
        const crash = await modernCall(url, token, 'c', 'fixture/crash');
        const hung = await hanging;
        for (const [name, { status, answer }] of [
          ['the crashing request', crash],
          ['the request in flight beside it', hung],
        ] as const) {
          assert.equal(status, 502, name);
          assert.equal(answer.error?.code, -31004, name);
          assert.match(answer.error?.message ?? '', /exited/, name);
        }
        assert.equal(hung.answer.id, 'h', 'with its own id back');
        await waitFor(() => h.audit.filter((e) => e.httpStatus === 502).length === 2, 'the audit events');
        const failed = h.audit.filter((e) => e.httpStatus === 502).map((e) => e.requestId);
        assert.deepEqual(failed.sort(), ['"c"', '"h"']);
        const { answer } = await modernCall(url, token, 'r2', 'fixture/received');
        const received = (answer.result as { received: string[] }).received;
        assert.ok(!received.includes('fixture/hang'), 'the new child was not sent the request again');
        const next = (await modernCall(url, token, 'pid2', 'fixture/pid')).answer.result?.pid;
        assert.notEqual(next, first, 'a new warm child took the place of the one that crashed');
      } finally {
        await h.close();
      }
    },
  );
});

describe('the server/discover probe: a 2026-07-28 stdio server, and legacy ones', () => {
  const MODERN_FIXTURE = fileURLToPath(new URL('./fixtures/stdio-modern-fixture.mjs', import.meta.url));

  test(
    'a server that answers server/discover is used as it is: no initialize, its own discover, _meta kept',
    HANG_GUARD,
    async () => {
      const { h, spawns, alice, bob } = await proxyFor([MODERN_FIXTURE]);
      try {
        const url = `${h.url}/mcp`;
        const discover = await modernCall(url, alice, 1, 'server/discover');
        assert.equal(discover.status, 200);
        assert.equal(discover.answer.id, 1);
        assert.equal(
          discover.answer.result?.cacheScope,
          'public',
          'the server’s own answer, not the proxy’s',
        );
        const call = await modernCall(url, alice, 'c', 'tools/call', { name: 'echo', arguments: { x: 1 } });
        assert.equal(call.answer.id, 'c');
        const meta =
          (call.answer.result?.structuredContent as { meta: Record<string, unknown> } | undefined)?.meta ??
          {};
        assert.equal(meta['io.modelcontextprotocol/protocolVersion'], '2026-07-28', 'reserved keys reach it');
        // Its own refusals come with their HTTP status.
        const init = await modernCall(url, alice, 'i', 'initialize');
        assert.equal(init.status, 404);
        assert.equal(init.answer.error?.code, -32601);
        // One child per principal, probed once each, never initialized.
        await modernCall(url, bob, 2, 'tools/list');
        assert.equal(spawns.length, 2);
        assert.deepEqual(
          spawns.map((s) => [s.context.principal, s.context.user]),
          [
            ['user-1', 'alice@example.com'],
            ['user-2', 'bob@example.com'],
          ],
        );
        // The spawn's audit event names the user as the requests' events do.
        assert.deepEqual(
          spawns.map((s) => spawnRecord(s).user),
          ['alice@example.com', 'bob@example.com'],
        );
      } finally {
        await h.close();
      }
    },
  );

  test(
    'a legacy server that exits on a request before initialize is reopened with initialize, and not probed again',
    HANG_GUARD,
    async () => {
      const { h, spawns, alice, bob } = await proxyFor([FIXTURE, '--exit-before-initialize']);
      try {
        const url = `${h.url}/mcp`;
        const first = await modernCall(url, alice, 1, 'fixture/pid');
        assert.equal(first.status, 200);
        assert.equal(typeof first.answer.result?.pid, 'number');
        assert.equal(spawns.length, 2, 'the probed child, then a fresh one for initialize');
        const discover = await modernCall(url, alice, 2, 'server/discover');
        assert.deepEqual(discover.answer.result?.supportedVersions, ['2026-07-28'], 'answered by the proxy');
        const other = await modernCall(url, bob, 3, 'fixture/pid');
        assert.equal(other.status, 200);
        assert.equal(spawns.length, 3, 'the next channel goes straight to initialize');
      } finally {
        await h.close();
      }
    },
  );

  test(
    'a legacy server that never answers server/discover is reopened after the probe times out',
    HANG_GUARD,
    async () => {
      const { h, spawns, alice } = await proxyFor([FIXTURE, '--ignore-unknown'], 200);
      try {
        const r = await modernCall(`${h.url}/mcp`, alice, 1, 'fixture/pid');
        assert.equal(r.status, 200);
        assert.equal(typeof r.answer.result?.pid, 'number');
        assert.equal(spawns.length, 2);
      } finally {
        await h.close();
      }
    },
  );
});

describe('subscriptions/listen through the stateless pool', () => {
  const listen = openListenStream;

  test(
    'acknowledged first with what the server declared, then only the chosen list changes, tagged',
    HANG_GUARD,
    async () => {
      const h = await startHarness({
        users: ['alice@example.com', 'bob@example.com'],
        upstream: createStdioUpstream({
          command: process.execPath,
          args: [FIXTURE],
          statelessPerPrincipal: 1,
        }),
      });
      try {
        const url = `${h.url}/mcp`;
        const alice = await h.token();
        const bob = await h.token({ sub: 'user-2', email: 'bob@example.com' });
        const a = await listen(url, alice, 'sub-a', {
          toolsListChanged: true,
          promptsListChanged: true,
          resourceSubscriptions: ['file:///x'],
        });
        const b = await listen(url, bob, 'sub-b', { toolsListChanged: true });
        assert.equal(a.status, 200);
        assert.match(a.contentType ?? '', /^text\/event-stream/);
        await waitFor(() => a.messages.length >= 1 && b.messages.length >= 1, 'the acknowledgements');
        assert.deepEqual(a.messages[0], {
          jsonrpc: '2.0',
          method: 'notifications/subscriptions/acknowledged',
          // The fixture has tools with listChanged and no prompts; resource subscriptions are not offered.
          params: {
            notifications: { toolsListChanged: true },
            _meta: { 'io.modelcontextprotocol/subscriptionId': 'sub-a' },
          },
        });
        // Alice's warm child announces a tools and a prompts list change.
        assert.equal((await modernCall(url, alice, 1, 'fixture/list-changed')).status, 200);
        await waitFor(() => a.messages.length >= 2, 'the tools list change');
        assert.deepEqual(a.messages[1], {
          jsonrpc: '2.0',
          method: 'notifications/tools/list_changed',
          params: { _meta: { 'io.modelcontextprotocol/subscriptionId': 'sub-a' } },
        });
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(a.messages.length, 2, 'no prompts list change: it was not honoured');
        assert.equal(b.messages.length, 1, 'another principal’s children are not bob’s');
        a.close();
        b.close();
      } finally {
        await h.close();
      }
    },
  );

  test(
    'a listen stream keeps its warm child past the idle timeout, and ends with its result when the child exits',
    HANG_GUARD,
    async () => {
      const spawns: StdioSpawnEvent[] = [];
      const h = await startHarness({
        upstream: createStdioUpstream({
          command: process.execPath,
          args: [FIXTURE],
          statelessPerPrincipal: 1,
          idleTimeoutMs: 100,
          onSpawn: (s) => spawns.push(s),
        }),
      });
      try {
        const url = `${h.url}/mcp`;
        const token = await h.token();
        const a = await listen(url, token, 'sub-idle', { toolsListChanged: true });
        await waitFor(() => a.messages.length >= 1, 'the acknowledgement');
        // The first child answered the server/discover probe; the listen was served by the second.
        const served = spawns.at(-1)?.pid;
        // Many idle timeouts later, the child that served the listen still serves the principal.
        await new Promise((r) => setTimeout(r, 500));
        const spawned = spawns.length;
        assert.equal((await modernCall(url, token, 1, 'fixture/pid')).answer.result?.pid, served);
        assert.equal(spawns.length, spawned, 'the held child did not close idle: none was spawned again');
        assert.equal((await modernCall(url, token, 2, 'fixture/list-changed')).status, 200);
        await waitFor(() => a.messages.length >= 2, 'the tools list change');
        // The child exits: the stream ends with the listen request's result, for the client to listen again.
        await modernCall(url, token, 3, 'fixture/crash');
        await waitFor(() => a.messages.length >= 3, 'the end of the stream');
        assert.deepEqual(a.messages[2], {
          jsonrpc: '2.0',
          id: 'sub-idle',
          result: { resultType: 'complete', _meta: { 'io.modelcontextprotocol/subscriptionId': 'sub-idle' } },
        });
        a.close();
      } finally {
        await h.close();
      }
    },
  );

  test(
    'a listen without a notifications filter gets 400 and -32602, one that cannot take a stream 406',
    HANG_GUARD,
    async () => {
      const h = await startHarness({
        upstream: createStdioUpstream({ command: process.execPath, args: [FIXTURE] }),
      });
      try {
        const r = await modernCall(`${h.url}/mcp`, await h.token(), 1, 'subscriptions/listen');
        assert.equal(r.status, 400);
        assert.equal(r.answer.error?.code, -32602);
        const jsonOnly = await modernCall(
          `${h.url}/mcp`,
          await h.token(),
          2,
          'subscriptions/listen',
          { notifications: { toolsListChanged: true } },
          { accept: 'application/json' },
        );
        assert.equal(jsonOnly.status, 406);
      } finally {
        await h.close();
      }
    },
  );
});
