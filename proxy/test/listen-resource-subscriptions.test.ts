/**
 * Resource subscriptions on `subscriptions/listen` streams (2026-07-28) served by the stateless pool in
 * front of a stdio server that speaks only 2025-11-25: the proxy turns a stream's `resourceSubscriptions`
 * into `resources/subscribe` on a warm child, counted across the principal's streams, routes
 * `notifications/resources/updated` to the streams that asked for the URI, and lets policy, validation
 * and the server's refusals take URIs out of the acknowledgement. Against a real MCP SDK server
 * (`fixtures/stdio-subscriptions-fixture.mjs`), which announces updates for any URI it is told to touch,
 * subscribed or not, so the streams show the proxy's own routing.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { StdioSpawnEvent } from '../src/upstream/stdio-channel.ts';
import { createStdioUpstream } from '../src/upstream/stdio-upstream.ts';
import { waitFor } from './fixtures/stdio-harness.ts';
import { applyPolicy } from './helpers/apply-policy.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { type ListenStream, modernCall, openListenStream } from './helpers/modern-client.ts';

const HANG_GUARD = { timeout: 60_000 };
const FIXTURE = fileURLToPath(new URL('./fixtures/stdio-subscriptions-fixture.mjs', import.meta.url));
const SUB = 'io.modelcontextprotocol/subscriptionId';
/** How long a test waits for one event before it fails saying which. */
const WAIT_MS = 15_000;

type Message = Record<string, unknown>;

interface Proxy {
  h: Harness;
  url: string;
  spawns: StdioSpawnEvent[];
  alice: string;
  bob: string;
}

/** A proxy in front of the fixture (one warm child per principal), alice and bob granted. */
async function proxy(
  args: string[] = [],
  policy?: Parameters<typeof startHarness>[0]['policy'],
  filterAllow?: string[],
  limits: { requestTimeoutMs?: number } = {},
): Promise<Proxy> {
  const spawns: StdioSpawnEvent[] = [];
  const h = await startHarness({
    users: ['alice@example.com', 'bob@example.com'],
    upstream: createStdioUpstream({
      command: process.execPath,
      args: [FIXTURE, ...args],
      statelessPerPrincipal: 1,
      ...limits,
      onSpawn: (s) => spawns.push(s),
    }),
    policy,
    filterAllow,
  });
  const alice = await h.token();
  const bob = await h.token({ sub: 'user-2', email: 'bob@example.com' });
  return { h, url: `${h.url}/mcp`, spawns, alice, bob };
}

const listen = (url: string, token: string, id: string, notifications: Message) =>
  openListenStream(url, token, id, notifications, WAIT_MS);

const acknowledged = (id: string, notifications: Message): Message => ({
  jsonrpc: '2.0',
  method: 'notifications/subscriptions/acknowledged',
  params: { notifications, _meta: { [SUB]: id } },
});
const updated = (uri: string, id: string): Message => ({
  jsonrpc: '2.0',
  method: 'notifications/resources/updated',
  params: { uri, _meta: { [SUB]: id } },
});

/** Opens a listen stream on `uris` and checks that all of them were acknowledged. */
async function subscribed(url: string, token: string, id: string, uris: string[]) {
  const s = await listen(url, token, id, { resourceSubscriptions: uris });
  assert.deepEqual(await s.next(`${id} acknowledged`), acknowledged(id, { resourceSubscriptions: uris }));
  return s;
}

let ids = 0;
/** Calls a fixture tool through the proxy and returns the JSON its text holds. */
async function tool(url: string, token: string, name: string, args: Message = {}): Promise<Message> {
  const r = await modernCall(url, token, `call-${++ids}`, 'tools/call', { name, arguments: args });
  assert.equal(r.status, 200, `${name}: ${JSON.stringify(r.answer)}`);
  const content = r.answer.result?.content as { text: string }[] | undefined;
  return JSON.parse(content?.[0]?.text ?? 'null') as Message;
}

interface FixtureState {
  pid: number;
  subscribed: string[];
  calls: [string, string][];
  lateAnswered: string[];
}
const state = async (url: string, token: string) =>
  (await tool(url, token, 'state')) as unknown as FixtureState;

/** Waits for the audit event of the listen request `id`, recorded once the proxy saw its stream close. */
async function closedAndAudited(p: Proxy, s: ListenStream, id: string) {
  s.close();
  await waitFor(
    () => p.h.audit.some((r) => r.method === 'subscriptions/listen' && r.requestId === JSON.stringify(id)),
    `the audit event of the closed listen stream ${id}`,
  );
  return p.h.audit.find((r) => r.method === 'subscriptions/listen' && r.requestId === JSON.stringify(id))!;
}

describe('resource subscriptions on listen streams through the stateless pool', () => {
  test(
    'updates reach only the streams that subscribed to their URI, tagged; other principals get none',
    HANG_GUARD,
    async () => {
      const p = await proxy();
      const { url, alice, bob } = p;
      try {
        const a1 = await listen(url, alice, 'a-1', { resourceSubscriptions: ['note://a'] });
        const a2 = await listen(url, alice, 'a-2', { resourceSubscriptions: ['note://b'] });
        const b1 = await listen(url, bob, 'b-1', { resourceSubscriptions: ['note://a', 'note://y'] });
        assert.equal(a1.status, 200);
        assert.deepEqual(
          await a1.next('a-1 acknowledged'),
          acknowledged('a-1', { resourceSubscriptions: ['note://a'] }),
        );
        assert.deepEqual(
          await a2.next('a-2 acknowledged'),
          acknowledged('a-2', { resourceSubscriptions: ['note://b'] }),
        );
        assert.deepEqual(
          await b1.next('b-1 acknowledged'),
          acknowledged('b-1', { resourceSubscriptions: ['note://a', 'note://y'] }),
        );
        // Each principal's child was asked once per URI, and only for its own streams' URIs.
        assert.deepEqual((await state(url, alice)).calls, [
          ['resources/subscribe', 'note://a'],
          ['resources/subscribe', 'note://b'],
        ]);
        assert.deepEqual((await state(url, bob)).calls, [
          ['resources/subscribe', 'note://a'],
          ['resources/subscribe', 'note://y'],
        ]);

        // 1. Alice's child announces note://a and note://c: a-1 gets note://a, tagged with its id.
        await tool(url, alice, 'touch', { uris: ['note://a', 'note://c'] });
        assert.deepEqual(await a1.next('note://a on a-1'), updated('note://a', 'a-1'));
        // 2. Then note://b and note://a again: a-2's first update is note://b (no note://a, no note://c
        //    before it), and a-1's next is note://a (no note://c, no note://b).
        await tool(url, alice, 'touch', { uris: ['note://b', 'note://a'] });
        assert.deepEqual(await a2.next('note://b on a-2'), updated('note://b', 'a-2'));
        assert.deepEqual(await a1.next('the second note://a on a-1'), updated('note://a', 'a-1'));
        // 3. Bob subscribed to note://a too, yet alice's updates were hers: his first is his own note://y.
        await tool(url, bob, 'touch', { uris: ['note://y'] });
        assert.deepEqual(await b1.next('note://y on b-1'), updated('note://y', 'b-1'));
        assert.equal(a1.queued + a2.queued + b1.queued, 0, 'nothing else arrived');
        a1.close();
        a2.close();
        b1.close();
      } finally {
        await p.h.close();
      }
    },
  );

  test(
    'two streams on one URI subscribe it once; closing one keeps the other’s updates, closing both unsubscribes',
    HANG_GUARD,
    async () => {
      const p = await proxy();
      const { url, alice } = p;
      try {
        const s1 = await listen(url, alice, 's-1', { resourceSubscriptions: ['note://a'] });
        const s2 = await listen(url, alice, 's-2', { resourceSubscriptions: ['note://a', 'note://a'] });
        assert.deepEqual(
          await s1.next('s-1 acknowledged'),
          acknowledged('s-1', { resourceSubscriptions: ['note://a'] }),
        );
        assert.deepEqual(
          await s2.next('s-2 acknowledged'),
          acknowledged('s-2', { resourceSubscriptions: ['note://a'] }),
          'a URI listed twice is acknowledged once',
        );
        await tool(url, alice, 'touch', { uris: ['note://a'] });
        assert.deepEqual(await s1.next('note://a on s-1'), updated('note://a', 's-1'));
        assert.deepEqual(await s2.next('note://a on s-2'), updated('note://a', 's-2'));
        assert.deepEqual((await state(url, alice)).calls, [['resources/subscribe', 'note://a']]);

        // 1. s-1 closes: the server is not told, and s-2 still gets note://a.
        await closedAndAudited(p, s1, 's-1');
        const afterOne = await state(url, alice);
        assert.deepEqual(afterOne.calls, [['resources/subscribe', 'note://a']]);
        assert.deepEqual(afterOne.subscribed, ['note://a']);
        await tool(url, alice, 'touch', { uris: ['note://a'] });
        assert.deepEqual(await s2.next('note://a on s-2 after s-1 closed'), updated('note://a', 's-2'));

        // 2. s-2 closes too: the server gets resources/unsubscribe.
        await closedAndAudited(p, s2, 's-2');
        await waitFor(
          async () => (await state(url, alice)).subscribed.length === 0,
          'resources/unsubscribe of note://a upstream',
        );
        assert.deepEqual((await state(url, alice)).calls, [
          ['resources/subscribe', 'note://a'],
          ['resources/unsubscribe', 'note://a'],
        ]);

        // 3. A new stream subscribes it again.
        const s3 = await listen(url, alice, 's-3', { resourceSubscriptions: ['note://a'] });
        assert.deepEqual(
          await s3.next('s-3 acknowledged'),
          acknowledged('s-3', { resourceSubscriptions: ['note://a'] }),
        );
        assert.deepEqual((await state(url, alice)).subscribed, ['note://a']);
        s3.close();
      } finally {
        await p.h.close();
      }
    },
  );

  test(
    'a URI the policy would not let the caller read is left out of the acknowledgement, never subscribed, and named in the audit',
    HANG_GUARD,
    async () => {
      const p = await proxy([], {
        rules: [{ id: 'no-secrets', effect: 'DENY', methods: ['resources/read'], targets: ['secret:*'] }],
      });
      const { url, alice } = p;
      try {
        // The decision a resources/read of it gets.
        const read = await modernCall(url, alice, 'r-1', 'resources/read', { uri: 'secret://x' });
        assert.equal(read.status, 403);
        assert.equal(read.answer.error?.code, -31003);

        const s = await listen(url, alice, 'sec-1', {
          toolsListChanged: true,
          resourceSubscriptions: ['secret://x', 'note://a'],
        });
        assert.equal(s.status, 200, 'the stream itself is allowed');
        assert.deepEqual(
          await s.next('sec-1 acknowledged'),
          acknowledged('sec-1', { toolsListChanged: true, resourceSubscriptions: ['note://a'] }),
        );
        assert.deepEqual((await state(url, alice)).calls, [['resources/subscribe', 'note://a']]);
        // The server announces both: only note://a reaches the stream.
        await tool(url, alice, 'touch', { uris: ['secret://x', 'note://a'] });
        assert.deepEqual(await s.next('note://a on sec-1'), updated('note://a', 'sec-1'));
        assert.equal(s.queued, 0);

        const event = await closedAndAudited(p, s, 'sec-1');
        assert.equal(event.outcome, 'ok');
        assert.equal(event.decision, 'allow');
        assert.equal(
          event.reason,
          'resourceSubscriptions left out by policy: "secret://x" (denied by rule "no-secrets")',
        );
      } finally {
        await p.h.close();
      }
    },
  );

  test(
    'a sub-resource’s update reaches the streams subscribed to a URI it lies under, while policy lets their user read it',
    HANG_GUARD,
    async () => {
      const users = ['alice@example.com', 'bob@example.com'];
      const deny = (id: string, target: string) => ({
        id,
        effect: 'DENY' as const,
        methods: ['resources/read'],
        targets: [target],
      });
      const p = await proxy([], { rules: [deny('no-secret', 'note://a/secret')] });
      const { url, alice } = p;
      try {
        const s = await subscribed(url, alice, 'tree-1', ['note://a']);
        // A longer name is no sub-resource, and a sub-resource the policy denies is not delivered.
        await tool(url, alice, 'touch', { uris: ['note://ab', 'note://a/secret', 'note://a/child'] });
        assert.deepEqual(await s.next('note://a/child on tree-1'), updated('note://a/child', 'tree-1'));
        assert.equal(s.queued, 0);

        // The policy in force decides each delivery: a new version denies note://a/child too.
        applyPolicy(p.h, users, [deny('no-secret', 'note://a/secret'), deny('no-child', 'note://a/child')]);
        await tool(url, alice, 'touch', { uris: ['note://a/child', 'note://a/other', 'note://a'] });
        assert.deepEqual(await s.next('note://a/other on tree-1'), updated('note://a/other', 'tree-1'));
        assert.deepEqual(await s.next('note://a on tree-1'), updated('note://a', 'tree-1'));
        assert.equal(s.queued, 0);
        s.close();
      } finally {
        await p.h.close();
      }
    },
  );

  test(
    'a subscribe the server answers too late is left out, and unsubscribed so that the server holds nothing the proxy does not know of',
    HANG_GUARD,
    async () => {
      // The request timeout also bounds the child's start and `initialize` (a few hundred ms on a busy
      // machine), so it leaves room for them; only the slow subscribe goes past it.
      const p = await proxy(['--slow-ms=5000'], undefined, undefined, { requestTimeoutMs: 2_000 });
      const { url, alice } = p;
      try {
        const s = await listen(url, alice, 'late-1', { resourceSubscriptions: ['slow://x', 'note://a'] });
        assert.deepEqual(
          await s.next('late-1 acknowledged'),
          acknowledged('late-1', { resourceSubscriptions: ['note://a'] }),
        );
        await waitFor(
          async () => (await state(url, alice)).calls.length === 3,
          'resources/unsubscribe of slow://x upstream',
        );
        const after = await state(url, alice);
        assert.deepEqual(after.calls, [
          ['resources/subscribe', 'slow://x'],
          ['resources/subscribe', 'note://a'],
          ['resources/unsubscribe', 'slow://x'],
        ]);
        assert.deepEqual(after.subscribed, ['note://a']);
        await tool(url, alice, 'touch', { uris: ['slow://x', 'note://a'] });
        assert.deepEqual(await s.next('note://a on late-1'), updated('note://a', 'late-1'));
        assert.equal(s.queued, 0);
        s.close();
      } finally {
        await p.h.close();
      }
    },
  );

  test(
    'a late subscribe the server applies after the proxy unsubscribed it is unsubscribed again when its answer comes',
    HANG_GUARD,
    async () => {
      const p = await proxy(['--slow-ms=4000'], undefined, undefined, { requestTimeoutMs: 2_000 });
      const { url, alice } = p;
      try {
        const s = await listen(url, alice, 'late-2', { resourceSubscriptions: ['late://x', 'note://a'] });
        assert.deepEqual(
          await s.next('late-2 acknowledged'),
          acknowledged('late-2', { resourceSubscriptions: ['note://a'] }),
        );
        // The unsubscribe right after the timeout reaches the server before it applies the subscribe.
        await waitFor(
          async () => (await state(url, alice)).calls.length === 3,
          'resources/unsubscribe of late://x upstream',
        );
        // Then the server subscribes late://x and answers; the proxy undoes it.
        await waitFor(
          async () => (await state(url, alice)).calls.length === 4,
          'a second resources/unsubscribe of late://x, once its subscribe was answered',
        );
        const after = await state(url, alice);
        assert.deepEqual(after.calls, [
          ['resources/subscribe', 'late://x'],
          ['resources/subscribe', 'note://a'],
          ['resources/unsubscribe', 'late://x'],
          ['resources/unsubscribe', 'late://x'],
        ]);
        assert.deepEqual(after.subscribed, ['note://a']);
        await tool(url, alice, 'touch', { uris: ['late://x', 'note://a'] });
        assert.deepEqual(await s.next('note://a on late-2'), updated('note://a', 'late-2'));
        assert.equal(s.queued, 0);
        s.close();
      } finally {
        await p.h.close();
      }
    },
  );

  test(
    'a late acceptance does not undo a subscription another stream made meanwhile',
    HANG_GUARD,
    async () => {
      const p = await proxy(['--slow-ms=4000'], undefined, undefined, { requestTimeoutMs: 2_000 });
      const { url, alice } = p;
      try {
        const first = await listen(url, alice, 'late-3', { resourceSubscriptions: ['late://y'] });
        assert.deepEqual(await first.next('late-3 acknowledged'), acknowledged('late-3', {}));
        await waitFor(
          async () => (await state(url, alice)).calls.length === 2,
          'resources/unsubscribe of late://y upstream',
        );
        first.close();
        // Before the first subscribe is answered, another stream of the same user subscribes the URI,
        // and this time the server answers at once.
        const second = await subscribed(url, alice, 'late-4', ['late://y']);
        // The first subscribe's acceptance then arrives (before the answer to the state call that sees
        // it); the URI is held, so it stays subscribed.
        await waitFor(
          async () => (await state(url, alice)).lateAnswered.includes('late://y'),
          'the answer to the first subscribe of late://y',
        );
        const after = await state(url, alice);
        assert.deepEqual(after.calls, [
          ['resources/subscribe', 'late://y'],
          ['resources/unsubscribe', 'late://y'],
          ['resources/subscribe', 'late://y'],
        ]);
        assert.deepEqual(after.subscribed, ['late://y']);
        await tool(url, alice, 'touch', { uris: ['late://y'] });
        assert.deepEqual(await second.next('late://y on late-4'), updated('late://y', 'late-4'));
        second.close();
      } finally {
        await p.h.close();
      }
    },
  );

  test('a request filter’s rewrite cannot subscribe a URI the policy denies', HANG_GUARD, async () => {
    // A filter webhook that adds secret://x to every listen request it sees.
    const hook = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const { request } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          request: { params: { notifications: { resourceSubscriptions: string[] } } };
        };
        const notifications = request.params.notifications;
        const params = {
          ...request.params,
          notifications: {
            ...notifications,
            resourceSubscriptions: [...notifications.resourceSubscriptions, 'secret://x'],
          },
        };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ decision: 'mutate', params }));
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    const port = (hook.address() as AddressInfo).port;
    const p = await proxy(
      [],
      {
        rules: [{ id: 'no-secrets', effect: 'DENY', methods: ['resources/read'], targets: ['secret:*'] }],
        filters: [
          {
            name: 'add-secret',
            url: `http://127.0.0.1:${port}/`,
            phase: 'request',
            methods: ['subscriptions/listen'],
            hmacSecret: 'webhook-secret-0123456789',
            mayMutate: true,
          },
        ],
      },
      ['127.0.0.1'],
    );
    const { url, alice } = p;
    try {
      const s = await subscribed(url, alice, 'f-1', ['note://a']);
      assert.deepEqual((await state(url, alice)).calls, [['resources/subscribe', 'note://a']]);
      const event = await closedAndAudited(p, s, 'f-1');
      assert.deepEqual(
        event.filters?.map((f) => [f.name, f.decision]),
        [['add-secret', 'mutate']],
      );
      assert.equal(
        event.reason,
        'resourceSubscriptions left out by policy: "secret://x" (denied by rule "no-secrets")',
      );
    } finally {
      await p.h.close();
      hook.closeAllConnections();
      hook.close();
    }
  });

  test(
    'a URI the server refuses is left out of the acknowledgement; the others are served',
    HANG_GUARD,
    async () => {
      const p = await proxy();
      const { url, alice } = p;
      try {
        const s = await listen(url, alice, 'ref-1', { resourceSubscriptions: ['refuse:me', 'note://a'] });
        assert.deepEqual(
          await s.next('ref-1 acknowledged'),
          acknowledged('ref-1', { resourceSubscriptions: ['note://a'] }),
        );
        const seen = await state(url, alice);
        assert.deepEqual(seen.calls, [
          ['resources/subscribe', 'refuse:me'],
          ['resources/subscribe', 'note://a'],
        ]);
        assert.deepEqual(seen.subscribed, ['note://a']);
        await tool(url, alice, 'touch', { uris: ['refuse:me', 'note://a'] });
        assert.deepEqual(await s.next('note://a on ref-1'), updated('note://a', 'ref-1'));
        assert.equal(s.queued, 0);
        s.close();
      } finally {
        await p.h.close();
      }
    },
  );

  test(
    'a server without resources.subscribe: the URIs are left out of the acknowledgement and nothing is subscribed',
    HANG_GUARD,
    async () => {
      const p = await proxy(['--no-subscribe']);
      const { url, alice } = p;
      try {
        const discover = await modernCall(url, alice, 'd-1', 'server/discover');
        const capabilities = discover.answer.result?.capabilities as Record<string, Message>;
        assert.deepEqual(capabilities.resources, { listChanged: true });
        const s = await listen(url, alice, 'ns-1', {
          toolsListChanged: true,
          resourceSubscriptions: ['note://a'],
        });
        assert.deepEqual(await s.next('ns-1 acknowledged'), acknowledged('ns-1', { toolsListChanged: true }));
        // An update the server sends anyway is not the stream's: the tools list change after it comes first.
        await tool(url, alice, 'touch', { uris: ['note://a'] });
        await tool(url, alice, 'announce-tools');
        assert.deepEqual(await s.next('the tools list change on ns-1'), {
          jsonrpc: '2.0',
          method: 'notifications/tools/list_changed',
          params: { _meta: { [SUB]: 'ns-1' } },
        });
        assert.deepEqual((await state(url, alice)).calls, []);
        s.close();
      } finally {
        await p.h.close();
      }
    },
  );

  test('a server with resources.subscribe says so in server/discover', HANG_GUARD, async () => {
    const p = await proxy();
    try {
      const discover = await modernCall(p.url, p.alice, 'd-1', 'server/discover');
      const capabilities = discover.answer.result?.capabilities as Record<string, Message>;
      assert.deepEqual(capabilities.resources, { listChanged: true, subscribe: true });
    } finally {
      await p.h.close();
    }
  });

  test(
    'malformed resourceSubscriptions get 400 with -32602 naming the field, and nothing reaches the server',
    HANG_GUARD,
    async () => {
      const p = await proxy();
      const { url, alice } = p;
      const field = 'params.notifications.resourceSubscriptions';
      const cases: [unknown, string][] = [
        ['note://a', `${field} must be an array of resource URIs (strings)`],
        [{ uri: 'note://a' }, `${field} must be an array of resource URIs (strings)`],
        [['note://a', 7], `${field}[1] must be a non-empty string`],
        [[''], `${field}[0] must be a non-empty string`],
        [
          Array.from({ length: 101 }, (_, i) => `note://${i}`),
          `${field} lists 101 URIs; at most 100 are allowed`,
        ],
        [[`note://${'x'.repeat(2042)}`], `${field}[0] is 2049 characters long; at most 2048 are allowed`],
      ];
      try {
        for (const [i, [list, message]] of cases.entries()) {
          const r = await modernCall(url, alice, `bad-${i}`, 'subscriptions/listen', {
            notifications: { resourceSubscriptions: list },
          });
          assert.equal(r.status, 400, message);
          assert.deepEqual(r.answer, {
            jsonrpc: '2.0',
            id: `bad-${i}`,
            error: { code: -32602, message },
          });
        }
        assert.equal(p.spawns.length, 0, 'no child was started: nothing went upstream');
        const events = p.h.audit.filter((r) => r.method === 'subscriptions/listen');
        assert.deepEqual(
          events.map((r) => [r.outcome, r.httpStatus, r.errorCode]),
          cases.map(() => ['invalid', 400, -32602]),
        );
        // The bounds themselves pass.
        const full = Array.from({ length: 100 }, (_, i) => `note://${i}`);
        full[99] = full[99]!.padEnd(2048, 'x');
        const s = await listen(url, alice, 'full-1', { resourceSubscriptions: full });
        const ack = await s.next('full-1 acknowledged');
        const honoured = (ack.params as { notifications: { resourceSubscriptions: string[] } }).notifications;
        assert.deepEqual(honoured.resourceSubscriptions, full);
        s.close();
      } finally {
        await p.h.close();
      }
    },
  );

  test('subscriptions survive their child: renewed on a new one when it exits', HANG_GUARD, async () => {
    const p = await proxy();
    const { url, alice } = p;
    try {
      const s = await listen(url, alice, 'life-1', { resourceSubscriptions: ['note://a'] });
      assert.deepEqual(
        await s.next('life-1 acknowledged'),
        acknowledged('life-1', { resourceSubscriptions: ['note://a'] }),
      );
      const first = await state(url, alice);
      assert.deepEqual(first.subscribed, ['note://a']);
      await tool(url, alice, 'exit');
      // The new child is asked for note://a by the proxy on its own (a request may meet the old one dying).
      let renewed: FixtureState | undefined;
      await waitFor(async () => {
        renewed = await state(url, alice).catch(() => undefined);
        return renewed !== undefined && renewed.pid !== first.pid && renewed.subscribed.includes('note://a');
      }, 'note://a subscribed on a new child');
      assert.deepEqual(renewed?.calls, [['resources/subscribe', 'note://a']]);
      await tool(url, alice, 'touch', { uris: ['note://a'] });
      assert.deepEqual(await s.next('note://a from the new child'), updated('note://a', 'life-1'));
      s.close();
    } finally {
      await p.h.close();
    }
  });

  test(
    'a stream whose subscriptions cannot be renewed ends with the listen result, for the client to listen again',
    HANG_GUARD,
    async () => {
      const marker = join(tmpdir(), `tessera-refuse-${process.pid}-${Date.now()}`);
      const p = await proxy([`--refuse-if-exists=${marker}`]);
      const { url, alice } = p;
      try {
        const kept = await listen(url, alice, 'keep-1', { toolsListChanged: true });
        const s = await listen(url, alice, 'lost-1', { resourceSubscriptions: ['note://a'] });
        assert.deepEqual(
          await kept.next('keep-1 acknowledged'),
          acknowledged('keep-1', { toolsListChanged: true }),
        );
        assert.deepEqual(
          await s.next('lost-1 acknowledged'),
          acknowledged('lost-1', { resourceSubscriptions: ['note://a'] }),
        );
        // 1. Every child from now on refuses subscriptions; the carrier exits.
        writeFileSync(marker, '');
        await tool(url, alice, 'exit');
        // 2. The renewal is refused: the stream gets its graceful end and closes.
        assert.deepEqual(await s.next('the end of lost-1'), {
          jsonrpc: '2.0',
          id: 'lost-1',
          result: { resultType: 'complete', _meta: { [SUB]: 'lost-1' } },
        });
        await s.ended;
        assert.equal(s.queued, 0);
        // 3. The list-changes stream was served on that child too: it ends the same way, and listening
        //    again hears the next child.
        assert.deepEqual(await kept.next('the end of keep-1'), {
          jsonrpc: '2.0',
          id: 'keep-1',
          result: { resultType: 'complete', _meta: { [SUB]: 'keep-1' } },
        });
        const again = await listen(url, alice, 'keep-2', { toolsListChanged: true });
        assert.deepEqual(
          await again.next('keep-2 acknowledged'),
          acknowledged('keep-2', { toolsListChanged: true }),
        );
        await tool(url, alice, 'announce-tools');
        assert.deepEqual(await again.next('the tools list change on keep-2'), {
          jsonrpc: '2.0',
          method: 'notifications/tools/list_changed',
          params: { _meta: { [SUB]: 'keep-2' } },
        });
        again.close();
      } finally {
        rmSync(marker, { force: true });
        await p.h.close();
      }
    },
  );
});
