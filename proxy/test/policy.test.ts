/**
 * Fine-grained policy at the socket level: a real proxy listener in front of a real HTTP MCP fixture,
 * with a real webhook server as the filter. Denied calls, filtered lists (JSON and SSE), rate limits
 * with Retry-After, filter deny / mutate / fail-closed, and the audit fields they leave.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { argumentsDigest } from '../src/audit/body-capture.ts';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { type Harness, startHarness } from './helpers/harness.ts';

const TOOLS = [
  // `q` is mirrored in a header on the modern wire (x-mcp-header), which a filter's rewrite must respect.
  {
    name: 'search',
    inputSchema: { type: 'object', properties: { q: { type: 'string', 'x-mcp-header': 'Query' } } },
  },
  { name: 'delete_repo' },
  { name: 'read_file' },
];

function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
  });
}

/** What the MCP fixture received, in order. */
const received: { headers: IncomingMessage['headers']; body: Record<string, unknown> }[] = [];

/** The MCP fixture: answers tools/list and echoes tools/call arguments; ids starting "sse-" get SSE. */
async function mcp(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const msg = await readJson(req);
  received.push({ headers: req.headers, body: msg });
  const result =
    msg.method === 'tools/list'
      ? { tools: TOOLS }
      : { echo: (msg.params as { arguments?: unknown })?.arguments ?? null };
  const answer = JSON.stringify({ jsonrpc: '2.0', id: msg.id, result });
  if (String(msg.id).startsWith('sse-')) {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(
      `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } })}\n\n`,
    );
    res.end(`event: message\nid: 7\ndata: ${answer}\n\n`);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' }).end(answer);
}

/** Paths the webhook fixture was called on. */
const seen: string[] = [];

/** The filter webhook fixture: its path picks the behaviour. */
async function webhook(req: IncomingMessage, res: ServerResponse): Promise<void> {
  seen.push(req.url ?? '');
  const body = await readJson(req);
  const request = body.request as { params: { arguments?: Record<string, unknown> } };
  const json = (status: number, b: string): void => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(b);
  };
  if (req.url === '/deny-secrets') {
    return JSON.stringify(request.params.arguments ?? {}).includes('secret')
      ? json(200, '{"decision":"deny","reason":"no secrets, please"}')
      : json(200, '{"decision":"allow"}');
  }
  if (req.url === '/mutate') {
    return json(
      200,
      JSON.stringify({ decision: 'mutate', params: { ...request.params, arguments: { q: 'rewritten' } } }),
    );
  }
  if (req.url === '/mutate-without-meta') {
    const { _meta: _, ...rest } = request.params as Record<string, unknown>;
    return json(
      200,
      JSON.stringify({ decision: 'mutate', params: { ...rest, arguments: { q: 'rewritten' } } }),
    );
  }
  if (req.url === '/mutate-case-variant') {
    // Keeps `name`, so the target check passes, but adds `NAME`: read as the tool by case-insensitive parsers.
    return json(
      200,
      JSON.stringify({ decision: 'mutate', params: { ...request.params, NAME: 'delete_repo' } }),
    );
  }
  if (req.url === '/broken') return json(500, 'oops');
  if (req.url === '/allow') return json(200, '{"decision":"allow"}');
  json(404, '{}');
}

let upstreamServer: Server;
let hookServer: Server;
let upstreamUrl: URL;
let hookBase: string;
const harnesses: Harness[] = [];

before(async () => {
  upstreamServer = createServer((req, res) => void mcp(req, res));
  hookServer = createServer((req, res) => void webhook(req, res));
  await new Promise<void>((r) => upstreamServer.listen(0, '127.0.0.1', r));
  await new Promise<void>((r) => hookServer.listen(0, '127.0.0.1', r));
  upstreamUrl = new URL(`http://127.0.0.1:${(upstreamServer.address() as AddressInfo).port}/mcp`);
  hookBase = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}`;
});

after(async () => {
  for (const h of harnesses) await h.close();
  for (const s of [upstreamServer, hookServer]) {
    s.closeAllConnections();
    s.close();
  }
});

/** A proxy whose filter webhooks may reach the loopback fixture unless `filterAllow` says otherwise. */
async function proxy(
  policy: Parameters<typeof startHarness>[0]['policy'],
  filterAllow = ['127.0.0.1'],
): Promise<Harness> {
  const h = await startHarness({
    upstream: createHttpUpstream({ url: upstreamUrl, log: () => {} }),
    policy,
    filterAllow,
  });
  harnesses.push(h);
  return h;
}

async function call(h: Harness, id: string | number, method: string, params?: Record<string, unknown>) {
  const res = await fetch(`${h.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await h.token()}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const SECRET = 'webhook-secret-0123456789';
const denyDelete = { rules: [{ id: 'no-delete', effect: 'DENY', targets: ['delete_*'] }] };

describe('policy at the socket level', () => {
  test('a denied tool call gets 403 with -31003 naming the rule, and is audited as such', async () => {
    const h = await proxy(denyDelete);
    const r = await call(h, 1, 'tools/call', { name: 'delete_repo', arguments: { repo: 'x', token: 't' } });
    assert.equal(r.status, 403);
    const body = JSON.parse(r.text);
    assert.equal(body.id, 1);
    assert.equal(body.error.code, -31003);
    assert.match(body.error.message, /denied by rule "no-delete"/);
    const ev = h.audit.at(-1)!;
    assert.equal(ev.outcome, 'denied');
    assert.equal(ev.decision, 'deny');
    assert.equal(ev.ruleId, 'no-delete');
    assert.equal(ev.argumentsDigest, argumentsDigest({ repo: 'x', token: 't' }));
    assert.deepEqual(ev.groups, []);
    // An allowed call is forwarded, and its audit names the grant that allowed it.
    const ok = await call(h, 2, 'tools/call', { name: 'search', arguments: {} });
    assert.equal(ok.status, 200);
    assert.equal(h.audit.at(-1)!.ruleId, 'grant:user:alice@example.com');
    assert.equal(h.audit.at(-1)!.decision, 'allow');
  });

  test('tools/list is filtered with the same decision, as JSON and as SSE', async () => {
    const h = await proxy(denyDelete);
    const json = await call(h, 3, 'tools/list');
    assert.equal(json.status, 200);
    assert.deepEqual(
      JSON.parse(json.text).result.tools.map((t: { name: string }) => t.name),
      ['search', 'read_file'],
    );
    const sse = await call(h, 'sse-1', 'tools/list');
    assert.equal(sse.headers.get('content-type'), 'text/event-stream');
    const events = sse.text.split('\n\n').filter(Boolean);
    assert.equal(events.length, 2, sse.text);
    assert.match(events[0]!, /notifications\/progress/, 'other events pass through unchanged');
    assert.match(events[1]!, /^event: message\nid: 7\ndata: /);
    const answer = JSON.parse(events[1]!.split('data: ')[1]!);
    assert.deepEqual(
      answer.result.tools.map((t: { name: string }) => t.name),
      ['search', 'read_file'],
    );
    assert.equal(h.audit.at(-1)!.responseBytes, Buffer.byteLength(sse.text));
  });

  test('rate limit per user: 429, -31006 and Retry-After', async () => {
    const h = await proxy({ rateLimits: { perUser: { capacity: 2, refillPerSecond: 0.01 } } });
    assert.equal((await call(h, 1, 'ping')).status, 200);
    assert.equal((await call(h, 2, 'ping')).status, 200);
    const r = await call(h, 3, 'ping');
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '100');
    assert.equal(JSON.parse(r.text).error.code, -31006);
    assert.equal(h.audit.at(-1)!.outcome, 'denied');
  });

  test('rate limit per tool leaves other tools alone', async () => {
    const h = await proxy({ rateLimits: { perTool: { capacity: 1, refillPerSecond: 0.5 } } });
    assert.equal((await call(h, 1, 'tools/call', { name: 'search' })).status, 200);
    const r = await call(h, 2, 'tools/call', { name: 'search' });
    assert.equal(r.status, 429);
    assert.equal(r.headers.get('retry-after'), '2');
    assert.equal((await call(h, 3, 'tools/call', { name: 'read_file' })).status, 200);
  });

  test('request filter: deny, mutate, fail closed; each decision audited', async () => {
    const filter = (name: string, path: string, extra = {}) => ({
      name,
      url: `${hookBase}${path}`,
      phase: 'request',
      methods: ['tools/call'],
      hmacSecret: SECRET,
      ...extra,
    });
    const deny = await proxy({ filters: [filter('dlp', '/deny-secrets')] });
    const denied = await call(deny, 1, 'tools/call', { name: 'search', arguments: { q: 'my secret' } });
    assert.equal(denied.status, 403);
    assert.equal(JSON.parse(denied.text).error.code, -31007);
    assert.match(JSON.parse(denied.text).error.message, /no secrets, please/);
    assert.deepEqual(
      deny.audit.at(-1)!.filters!.map((f) => [f.name, f.phase, f.decision]),
      [['dlp', 'request', 'deny']],
    );
    assert.equal(
      (await call(deny, 2, 'tools/call', { name: 'search', arguments: { q: 'fine' } })).status,
      200,
    );

    const mutate = await proxy({ filters: [filter('rewrite', '/mutate', { mayMutate: true })] });
    const m = await call(mutate, 3, 'tools/call', { name: 'search', arguments: { q: 'original' } });
    assert.deepEqual(JSON.parse(m.text).result.echo, { q: 'rewritten' });
    assert.equal(mutate.audit.at(-1)!.filters![0]!.decision, 'mutate');
    // The digest is of what the client sent.
    assert.equal(mutate.audit.at(-1)!.argumentsDigest, argumentsDigest({ q: 'original' }));

    const forbidden = await proxy({ filters: [filter('rewrite', '/mutate')] });
    const f = await call(forbidden, 4, 'tools/call', { name: 'search', arguments: { q: 'original' } });
    assert.equal(f.status, 403);
    assert.match(JSON.parse(f.text).error.message, /not allowed to mutate/);

    // A rewrite that servers matching names case-insensitively would read as another call fails closed.
    const variant = await proxy({
      filters: [filter('rewrite', '/mutate-case-variant', { mayMutate: true })],
    });
    const v = await call(variant, 6, 'tools/call', { name: 'search', arguments: { q: 'original' } });
    assert.equal(v.status, 502);
    assert.equal(JSON.parse(v.text).error.code, -31008);
    assert.match(
      JSON.parse(v.text).error.message,
      /rewrite is refused: params has the members "name" and "NAME"/,
    );
    assert.equal(variant.audit.at(-1)!.outcome, 'denied');

    const broken = await proxy({ filters: [filter('flaky', '/broken')] });
    const b = await call(broken, 5, 'tools/call', { name: 'search' });
    assert.equal(b.status, 502);
    assert.equal(JSON.parse(b.text).error.code, -31008);
    assert.equal(broken.audit.at(-1)!.filters![0]!.decision, 'error');
    assert.equal(broken.audit.at(-1)!.outcome, 'denied');
  });

  test('a modern request rewritten by a filter keeps its _meta, and a rewrite its MCP headers no longer match fails closed', async () => {
    const filter = (path: string) => ({
      name: 'rewrite',
      url: `${hookBase}${path}`,
      phase: 'request',
      methods: ['tools/call'],
      hmacSecret: SECRET,
      mayMutate: true,
    });
    const meta = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const modern = async (h: Harness, id: number) => {
      const res = await fetch(`${h.url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${await h.token()}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          'mcp-method': 'tools/call',
          'mcp-name': 'search',
          'mcp-param-query': 'original',
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'search', arguments: { q: 'original' }, _meta: meta },
        }),
      });
      return {
        status: res.status,
        body: (await res.json()) as { error?: { code: number; message: string } },
      };
    };

    const keeps = await proxy({ filters: [filter('/mutate-without-meta')] });
    received.length = 0;
    assert.equal((await modern(keeps, 1)).status, 200);
    const params = received.at(-1)!.body.params as Record<string, unknown>;
    assert.deepEqual(params.arguments, { q: 'rewritten' });
    assert.deepEqual(params._meta, meta, 'the filter dropped _meta; the proxy kept the request’s');

    // Once the proxy has seen the annotations, rewriting the mirrored argument leaves Mcp-Param-Query
    // stale: the modern upstream would refuse the pair, so the proxy fails closed.
    assert.equal((await call(keeps, 3, 'tools/list')).status, 200);
    received.length = 0;
    const r = await modern(keeps, 4);
    assert.equal(r.status, 502);
    assert.equal(r.body.error?.code, -31008);
    assert.match(
      r.body.error?.message ?? '',
      /no longer matches the request's MCP headers: .*Mcp-Param-query header value does not match/i,
    );
    assert.equal(received.length, 0, 'nothing reached the upstream');
    assert.equal(keeps.audit.at(-1)!.filters![0]!.decision, 'mutate');
  });

  test('response filter that fails replaces the answer with an error (fail closed)', async () => {
    const h = await proxy({
      filters: [{ name: 'out', url: `${hookBase}/broken`, phase: 'response', hmacSecret: SECRET }],
    });
    const r = await call(h, 1, 'tools/call', { name: 'search', arguments: {} });
    assert.equal(r.status, 200);
    const body = JSON.parse(r.text);
    assert.equal(body.id, 1);
    assert.equal(body.error.code, -31008);
    assert.equal(body.result, undefined);
    assert.equal(h.audit.at(-1)!.outcome, 'denied');
    assert.equal(h.audit.at(-1)!.errorCode, -31008);
  });

  test('filter webhooks go through the SSRF guard: loopback and plain http need the allow-list', async () => {
    const hookFilter = (url: string) => ({
      filters: [{ name: 'dlp', url, phase: 'request', methods: ['tools/call'], hmacSecret: SECRET }],
    });
    const cases: Array<[string, string[], RegExp]> = [
      // Not allow-listed: the loopback fixture is never called, over http or https.
      [
        `${hookBase}/allow`,
        [],
        /is not https \(plain http is allowed only to hosts TESSERA_PROXY_FILTER_ALLOW/,
      ],
      [
        hookBase.replace('http:', 'https:'),
        [],
        /127\.0\.0\.1 is a loopback address.*unless TESSERA_PROXY_FILTER_ALLOW lists it/,
      ],
      // Metadata endpoints need their exact address listed; a broad block is not enough.
      ['https://169.254.169.254/hook', ['169.254.0.0/16'], /169\.254\.169\.254 is a metadata address/],
      // Plain http only to a host the list names itself.
      ['http://example.com/hook', ['127.0.0.1'], /is not https \(plain http is allowed only to hosts/],
    ];
    for (const [url, allow, why] of cases) {
      const before = seen.length;
      const h = await proxy(hookFilter(url), allow);
      const r = await call(h, 1, 'tools/call', { name: 'search', arguments: { q: 'x' } });
      assert.equal(r.status, 502, url);
      assert.equal(JSON.parse(r.text).error.code, -31008);
      const ev = h.audit.at(-1)!;
      assert.equal(ev.outcome, 'denied');
      assert.equal(ev.filters![0]!.decision, 'error');
      assert.match(ev.filters![0]!.reason, /the webhook URL is not allowed: egress refused: /);
      assert.match(ev.filters![0]!.reason, why);
      assert.equal(seen.length, before, 'the webhook must not have been called');
    }
    const allowed = await proxy(hookFilter(`${hookBase}/allow`), ['127.0.0.1']);
    assert.equal((await call(allowed, 2, 'tools/call', { name: 'search', arguments: {} })).status, 200);
    assert.equal(allowed.audit.at(-1)!.filters![0]!.decision, 'allow');
  });

  test('body capture: off by default; when on, redacted and capped', async () => {
    const off = await proxy({});
    await call(off, 1, 'tools/call', { name: 'search', arguments: { password: 'hunter2' } });
    assert.equal(off.audit.at(-1)!.requestBody, '');
    const on = await proxy({ auditBodies: { enabled: true, maxBytes: 4096 } });
    await call(on, 2, 'tools/call', { name: 'search', arguments: { password: 'hunter2', q: 'x' } });
    const ev = on.audit.at(-1)!;
    assert.match(ev.requestBody!, /"password":"\[REDACTED\]"/);
    assert.doesNotMatch(ev.requestBody! + ev.responseBody!, /hunter2/);
    assert.match(ev.responseBody!, /"echo"/);
    assert.equal(ev.bodiesTruncated, false);
  });
});
