/**
 * Streams that outlive their authorization: a legacy session's GET stream and 2026-07-28 listen
 * streams, through the real proxy in front of a stdio MCP SDK server, are closed when a new policy no
 * longer lets their user hold them, and when the token that opened them expires; the others stay open,
 * and the audit event of each closed stream says why.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createStdioUpstream } from '../src/upstream/stdio-upstream.ts';
import { sseEvents, waitFor } from './fixtures/stdio-harness.ts';
import { applyPolicy } from './helpers/apply-policy.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { legacyInitialize } from './helpers/legacy-initialize.ts';
import { modernRequest, openListenStream } from './helpers/modern-client.ts';

const HANG_GUARD = { timeout: 60_000 };
const FIXTURE = fileURLToPath(new URL('./fixtures/stdio-subscriptions-fixture.mjs', import.meta.url));

async function proxy(
  policy?: Parameters<typeof startHarness>[0]['policy'],
  maxStreamsPerPrincipal?: number,
  filterAllow?: string[],
): Promise<{ h: Harness; url: string }> {
  const h = await startHarness({
    users: ['alice@example.com', 'bob@example.com'],
    upstream: createStdioUpstream({ command: process.execPath, args: [FIXTURE] }),
    policy,
    maxStreamsPerPrincipal,
    filterAllow,
  });
  return { h, url: `${h.url}/mcp` };
}

/** Opens a legacy session and its GET stream; resolves once the stream is open. */
async function openGetStream(url: string, token: string) {
  const headers = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  const init = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify(legacyInitialize(1)),
  });
  await init.arrayBuffer();
  const session = init.headers.get('mcp-session-id')!;
  const sessionHeaders = { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' };
  const initialized = await fetch(url, {
    method: 'POST',
    headers: sessionHeaders,
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
  });
  await initialized.arrayBuffer();
  const get = await fetch(url, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-session-id': session },
  });
  assert.equal(get.status, 200);
  let open = true;
  /** The JSON-RPC messages the stream carried. */
  const messages: Record<string, unknown>[] = [];
  const ended = (async () => {
    try {
      for await (const event of sseEvents(get)) {
        if (event.data) messages.push(JSON.parse(event.data) as Record<string, unknown>);
      }
    } catch {
      // Cut by the proxy.
    }
    open = false;
  })();
  return { session, ended, isOpen: () => open, sessionHeaders, messages };
}

/** The status of a GET for the session's stream that the proxy is expected to refuse (its body read). */
async function getStatus(url: string, token: string, session: string): Promise<number> {
  const res = await fetch(url, {
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'mcp-session-id': session },
  });
  await res.arrayBuffer();
  return res.status;
}

const auditOf = (h: Harness, method: string, user: string) =>
  h.audit.filter((r) => r.method === method && r.user === user);

describe('streams judged again while they last', () => {
  test(
    'a policy that no longer grants a user closes that user’s GET and listen streams, and only those',
    HANG_GUARD,
    async () => {
      const { h, url } = await proxy();
      try {
        const alice = await h.token();
        const bob = await h.token({ sub: 'user-2', email: 'bob@example.com' });
        const aliceGet = await openGetStream(url, alice);
        const bobGet = await openGetStream(url, bob);
        const aliceListen = await openListenStream(url, alice, 'a', { toolsListChanged: true });
        const bobListen = await openListenStream(url, bob, 'b', { toolsListChanged: true });
        await aliceListen.next('alice’s acknowledgement');
        await bobListen.next('bob’s acknowledgement');

        applyPolicy(h, ['bob@example.com']);
        await aliceGet.ended;
        await aliceListen.ended;
        await waitFor(
          () => auditOf(h, 'http/get-stream', 'alice@example.com').length === 1,
          'the audit event of alice’s GET stream',
        );
        await waitFor(
          () => auditOf(h, 'subscriptions/listen', 'alice@example.com').length === 1,
          'the audit event of alice’s listen stream',
        );
        for (const method of ['http/get-stream', 'subscriptions/listen']) {
          const [event] = auditOf(h, method, 'alice@example.com');
          assert.match(event!.reason, /closed on a configuration change: .*alice@example\.com/);
        }
        assert.ok(bobGet.isOpen(), 'bob is still granted: his GET stream stays');
        assert.equal(auditOf(h, 'subscriptions/listen', 'bob@example.com').length, 0, 'and his listen');

        // Alice's reconnection meets the new policy.
        assert.equal(await getStatus(url, alice, aliceGet.session), 403);
        bobListen.close();
      } finally {
        await h.close();
      }
    },
  );

  test(
    'a listen stream subscribed to a URI the new policy hides is closed; one without it stays',
    HANG_GUARD,
    async () => {
      const { h, url } = await proxy();
      try {
        const alice = await h.token();
        const notes = await openListenStream(url, alice, 'notes', { resourceSubscriptions: ['note://a'] });
        const secret = await openListenStream(url, alice, 'secret', {
          resourceSubscriptions: ['secret://plan'],
        });
        await notes.next('the acknowledgement of notes');
        await secret.next('the acknowledgement of secret');

        applyPolicy(
          h,
          ['alice@example.com', 'bob@example.com'],
          [{ id: 'no-secrets', effect: 'DENY', methods: ['resources/read'], targets: ['secret:*'] }],
        );
        await secret.ended;
        await waitFor(
          () => h.audit.some((r) => r.method === 'subscriptions/listen' && r.requestId === '"secret"'),
          'the audit event of the closed stream',
        );
        const event = h.audit.find((r) => r.method === 'subscriptions/listen' && r.requestId === '"secret"');
        assert.match(event!.reason, /closed on a configuration change: secret:\/\/plan: .*no-secrets/);
        assert.equal(
          h.audit.some((r) => r.requestId === '"notes"'),
          false,
          'the stream without the secret stays open',
        );
        notes.close();
      } finally {
        await h.close();
      }
    },
  );

  test('a stream is closed when the token that opened it expires', HANG_GUARD, async () => {
    const { h, url } = await proxy();
    try {
      const short = await h.token({ expSeconds: 2 });
      const long = await h.token({ sub: 'user-2', email: 'bob@example.com' });
      const expiring = await openListenStream(url, short, 'short', { toolsListChanged: true });
      const lasting = await openListenStream(url, long, 'long', { toolsListChanged: true });
      await expiring.next('the acknowledgement');
      await lasting.next('the other acknowledgement');
      await expiring.ended;
      await waitFor(
        () => h.audit.some((r) => r.requestId === '"short"'),
        'the audit event of the expired stream',
      );
      const event = h.audit.find((r) => r.requestId === '"short"');
      assert.match(event!.reason, /the token that opened the stream has expired/);
      assert.equal(
        h.audit.some((r) => r.requestId === '"long"'),
        false,
        'a stream whose token is valid stays',
      );
      lasting.close();
    } finally {
      await h.close();
    }
  });
  test(
    'a GET stream carries no update of a resource the user may not read, under the policy in force',
    HANG_GUARD,
    async () => {
      const users = ['alice@example.com', 'bob@example.com'];
      const deny = (target: string) => ({
        id: `hide-${target.replace(/[^a-z0-9]/g, '-')}`,
        effect: 'DENY' as const,
        methods: ['resources/read'],
        targets: [target],
      });
      const { h, url } = await proxy({ rules: [deny('note://a/secret')] });
      try {
        const alice = await h.token();
        const get = await openGetStream(url, alice);
        const touch = async (id: number, uris: string[]) => {
          const r = await fetch(url, {
            method: 'POST',
            headers: get.sessionHeaders,
            body: JSON.stringify({
              jsonrpc: '2.0',
              id,
              method: 'tools/call',
              params: { name: 'touch', arguments: { uris } },
            }),
          });
          assert.equal(r.status, 200);
          await r.arrayBuffer();
        };
        const updatedUris = () =>
          get.messages
            .filter((m) => m.method === 'notifications/resources/updated')
            .map((m) => (m.params as { uri: string }).uri);

        await touch(2, ['note://a/secret', 'note://a', 'note://b']);
        await waitFor(() => updatedUris().length === 2, 'the updates alice may see');
        assert.deepEqual(updatedUris(), ['note://a', 'note://b']);

        // A new policy hides note://b: its next update is left out too; the stream itself stays.
        applyPolicy(h, users, [deny('note://a/secret'), deny('note://b')]);
        await touch(3, ['note://b', 'note://a']);
        await waitFor(() => updatedUris().length === 3, 'the next update alice may see');
        assert.deepEqual(updatedUris(), ['note://a', 'note://b', 'note://a']);
        assert.ok(get.isOpen());
      } finally {
        await h.close();
      }
    },
  );
});

describe('streams per principal', () => {
  test(
    'a principal holds at most TESSERA_PROXY_MAX_STREAMS_PER_PRINCIPAL streams, GET and listen together',
    HANG_GUARD,
    async () => {
      // A listen filter that allows everything and counts its calls: a refused stream never reaches it.
      let filterCalls = 0;
      const hook = createServer((req, res) => {
        filterCalls++;
        req.resume().on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ decision: 'allow' }));
        });
      });
      await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
      const filter = {
        name: 'count-listens',
        url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/`,
        phase: 'request',
        methods: ['subscriptions/listen'],
        hmacSecret: 'webhook-secret-0123456789',
      };
      const { h, url } = await proxy({ filters: [filter] }, 2, ['127.0.0.1']);
      try {
        const alice = await h.token();
        const bob = await h.token({ sub: 'user-2', email: 'bob@example.com' });
        const get = await openGetStream(url, alice);
        const listening = await openListenStream(url, alice, 'a-1', { toolsListChanged: true });
        assert.equal(listening.status, 200);
        assert.equal(filterCalls, 1);

        // A third, of either kind, is refused before it reaches the server; calls are not streams.
        const refused = await modernRequest(url, alice, 'a-2', 'subscriptions/listen', {
          notifications: { toolsListChanged: true },
        });
        assert.equal(refused.status, 429);
        const body = (await refused.json()) as { id: string; error: { code: number; message: string } };
        assert.equal(body.id, 'a-2');
        assert.equal(body.error.code, -31006);
        assert.match(body.error.message, /alice@example\.com already holds 2 open streams/);
        assert.equal(await getStatus(url, alice, get.session), 429);
        assert.equal(filterCalls, 1, 'the refused listen request never reached the filter');
        const call = await fetch(url, {
          method: 'POST',
          headers: get.sessionHeaders,
          body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/call', params: { name: 'state' } }),
        });
        assert.equal(call.status, 200);
        await call.arrayBuffer();
        const denied = h.audit.filter((r) => r.user === 'alice@example.com' && r.httpStatus === 429);
        assert.deepEqual(
          denied.map((r) => [r.method, r.outcome]),
          [
            ['subscriptions/listen', 'denied'],
            ['http/get-stream', 'denied'],
          ],
        );

        // Another principal has places of its own.
        const bobs = await openListenStream(url, bob, 'b-1', { toolsListChanged: true });
        assert.equal(bobs.status, 200);

        // A stream that ends frees its place.
        listening.close();
        await waitFor(
          () => auditOf(h, 'subscriptions/listen', 'alice@example.com').some((r) => r.httpStatus === 200),
          'the closed listen stream to be recorded',
        );
        const again = await openListenStream(url, alice, 'a-3', { toolsListChanged: true });
        assert.equal(again.status, 200);
        again.close();
        bobs.close();
      } finally {
        await h.close();
        hook.close();
      }
    },
  );

  test(
    'a principal at the cap is told the policy’s 403 for a stream the policy denies',
    HANG_GUARD,
    async () => {
      const noGet = {
        id: 'bob-no-get',
        effect: 'DENY',
        principals: { users: ['bob@example.com'] },
        methods: ['http/get-stream'],
      };
      const { h, url } = await proxy({ rules: [noGet] }, 1);
      try {
        const bob = await h.token({ sub: 'user-2', email: 'bob@example.com' });
        const listening = await openListenStream(url, bob, 'b-1', { toolsListChanged: true });
        assert.equal(listening.status, 200);
        const init = await fetch(url, {
          method: 'POST',
          headers: {
            authorization: `Bearer ${bob}`,
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
          },
          body: JSON.stringify(legacyInitialize(1)),
        });
        await init.arrayBuffer();
        assert.equal(await getStatus(url, bob, init.headers.get('mcp-session-id')!), 403);
        const [refused] = auditOf(h, 'http/get-stream', 'bob@example.com');
        assert.equal(refused!.ruleId, 'bob-no-get');
        assert.equal(refused!.decision, 'deny');
        // An allowed stream over the cap still meets the cap, and its audit names the rule that allowed it.
        const over = await modernRequest(url, bob, 'b-2', 'subscriptions/listen', {
          notifications: { toolsListChanged: true },
        });
        assert.equal(over.status, 429);
        await over.arrayBuffer();
        const capped = h.audit.find((r) => r.requestId === '"b-2"');
        assert.deepEqual([capped!.outcome, capped!.decision], ['denied', 'allow']);
        listening.close();
      } finally {
        await h.close();
      }
    },
  );
});
