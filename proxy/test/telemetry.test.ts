/**
 * The proxy's operability on real sockets: `/metrics` after allowed, denied, unauthenticated and
 * malformed requests, the configuration gauges, upstream failures by kind, and W3C trace context
 * carried to a `node:http` upstream that records what it receives.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { GrantSchema, ServerPolicySchema } from '@tessera/api/mesh/v1/config';
import { translatePolicy } from '../src/ir/translate.ts';
import type { LogLevel } from '../src/telemetry/log.ts';
import { createProxyMetrics } from '../src/telemetry/metrics.ts';
import { parseTraceparent } from '../src/telemetry/trace-context.ts';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { createStdioUpstream } from '../src/upstream/stdio-upstream.ts';
import { FIXTURE } from './fixtures/stdio-harness.ts';
import { freePort } from './helpers/free-port.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { post, rpc } from './helpers/harness-post.ts';
import { parseExposition, type Sample, samplesOf, sampleValue } from './helpers/prometheus.ts';

const noLog = () => {};
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/;

interface Fixture {
  url: URL;
  /** Headers of every request the upstream received, in order. */
  seen: IncomingHttpHeaders[];
  close(): Promise<void>;
}

/** An MCP-ish upstream that records request headers; `hang` never answers, GET opens an empty stream. */
async function startFixture(): Promise<Fixture> {
  const seen: IncomingHttpHeaders[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req.headers);
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream' }).end();
        return;
      }
      const msg = JSON.parse(body || '{}') as { id?: number; method?: string };
      if (msg.method === 'hang') return;
      res.writeHead(200, { 'content-type': 'application/json', 'mcp-session-id': 'sess-secret-1' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { ok: true } }));
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

/** Closed after the file's tests. */
const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function fixtureAndHarness(
  options: { headersTimeoutMs?: number; configured?: boolean; logs?: LogEntry[] } = {},
): Promise<{ fixture: Fixture; h: Harness }> {
  const fixture = await startFixture();
  const h = await startHarness({
    upstream: createHttpUpstream({
      url: fixture.url,
      log: noLog,
      headersTimeoutMs: options.headersTimeoutMs,
    }),
    configured: options.configured,
    metrics: createProxyMetrics(),
    log: options.logs ? (level, msg, fields = {}) => options.logs!.push({ level, msg, fields }) : noLog,
  });
  cleanups.push(
    () => h.close(),
    () => fixture.close(),
  );
  return { fixture, h };
}

interface LogEntry {
  level: LogLevel;
  msg: string;
  fields: Record<string, unknown>;
}

async function scrape(h: Harness): Promise<{ text: string; samples: Sample[]; contentType: string }> {
  const res = await fetch(`${h.url}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  return { text, samples: parseExposition(text), contentType: res.headers.get('content-type') ?? '' };
}

describe('/metrics', () => {
  test('counts allowed, denied, unauthenticated and malformed requests, without names', async () => {
    const { h } = await fixtureAndHarness();
    // 1. Two allowed calls: a tool call, and a method outside the allow-list.
    assert.equal((await post(h, rpc('tools/call', { name: 'secret-tool-name' }))).status, 200);
    assert.equal((await post(h, rpc('vendor/private-method-of-mallory'))).status, 200);
    // 2. Authenticated but not granted.
    const mallory = await h.token({ email: 'mallory@example.com', sub: 'mallory-subject' });
    assert.equal(
      (await post(h, rpc('tools/call', { name: 'secret-tool-name' }), { token: mallory })).status,
      403,
    );
    // 3. No token, and a token for another resource.
    assert.equal((await post(h, rpc('tools/list'), { token: null })).status, 401);
    const otherAudience = await h.token({ aud: 'https://other.example/mcp' });
    assert.equal((await post(h, rpc('tools/list'), { token: otherAudience })).status, 401);
    // 4. Malformed JSON.
    assert.equal((await post(h, '{"jsonrpc": "2.0", "id": 1, "method": ')).status, 400);

    const { text, samples, contentType } = await scrape(h);
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    const requests = (method: string, outcome: string, status: string) =>
      sampleValue(samples, 'tessera_proxy_requests_total', { method, outcome, status });
    assert.equal(requests('tools/call', 'ok', '200'), 1);
    assert.equal(requests('other', 'ok', '200'), 1);
    assert.equal(requests('tools/call', 'denied', '403'), 1);
    assert.equal(requests('none', 'unauthenticated', '401'), 2);
    assert.equal(requests('none', 'invalid', '400'), 1);
    assert.equal(samplesOf(samples, 'tessera_proxy_requests_total').length, 5);

    const decisions = (decision: string, reason: string) =>
      sampleValue(samples, 'tessera_proxy_decisions_total', { decision, reason });
    assert.equal(decisions('allow', 'grant'), 2);
    assert.equal(decisions('deny', 'no_grant'), 1);
    assert.equal(decisions('deny', 'unauthenticated'), 2);
    assert.equal(decisions('deny', 'invalid'), 1);
    assert.equal(samplesOf(samples, 'tessera_proxy_decisions_total').length, 4);

    // The histogram saw every request; the allowed tool call's time is positive and in a finite bucket.
    const counts = samplesOf(samples, 'tessera_proxy_request_duration_seconds_count');
    assert.equal(
      counts.reduce((n, s) => n + s.value, 0),
      6,
    );
    const call = { method: 'tools/call', outcome: 'ok' };
    assert.equal(sampleValue(samples, 'tessera_proxy_request_duration_seconds_count', call), 1);
    assert.ok(sampleValue(samples, 'tessera_proxy_request_duration_seconds_sum', call)! > 0);
    assert.equal(
      sampleValue(samples, 'tessera_proxy_request_duration_seconds_bucket', { ...call, le: '30' }),
      1,
    );
    assert.equal(
      sampleValue(samples, 'tessera_proxy_request_duration_seconds_bucket', { ...call, le: '+Inf' }),
      1,
    );

    for (const kind of ['unavailable', 'timeout', 'exited'])
      assert.equal(sampleValue(samples, 'tessera_proxy_upstream_errors_total', { kind }), 0);
    assert.ok(sampleValue(samples, 'process_cpu_user_seconds_total')! >= 0, 'process metrics are exposed');

    // No user, subject, tool, method outside the allow-list, session or token in any label or line.
    for (const secret of [
      'alice',
      'mallory',
      'example.com',
      'user-1',
      'secret-tool',
      'vendor/',
      'sess-',
      'eyJ',
    ]) {
      assert.ok(!text.includes(secret), `the metrics output contains "${secret}"`);
    }
    // The audit has the names the metrics leave out.
    assert.ok(h.audit.some((a) => a.user === 'alice@example.com' && a.target === 'secret-tool-name'));
  });

  test('only GET and HEAD', async () => {
    const { h } = await fixtureAndHarness();
    assert.equal((await fetch(`${h.url}/metrics`, { method: 'POST' })).status, 405);
    const head = await fetch(`${h.url}/metrics`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(await head.text(), '');
  });

  test('config gauges: not ready and no versions, then every type with its version, then a new policy', async () => {
    const { h } = await fixtureAndHarness({ configured: false });
    // 1. Before any configuration: denied as not ready, and the readiness gauge is 0.
    assert.equal((await post(h, rpc('tools/list'))).status, 503);
    let { samples } = await scrape(h);
    assert.equal(sampleValue(samples, 'tessera_proxy_config_ready'), 0);
    assert.equal(samplesOf(samples, 'tessera_proxy_config_info').length, 0);
    assert.equal(
      sampleValue(samples, 'tessera_proxy_decisions_total', { decision: 'deny', reason: 'not_ready' }),
      1,
    );
    assert.equal(
      sampleValue(samples, 'tessera_proxy_requests_total', {
        method: 'none',
        outcome: 'error',
        status: '503',
      }),
      1,
    );

    // 2. The complete configuration: ready, one series per type.
    h.configure();
    ({ samples } = await scrape(h));
    assert.equal(sampleValue(samples, 'tessera_proxy_config_ready'), 1);
    for (const type of ['trust', 'upstream', 'policy', 'audit'])
      assert.equal(sampleValue(samples, 'tessera_proxy_config_info', { type, version: 'v1' }), 1, type);
    assert.equal(samplesOf(samples, 'tessera_proxy_config_info').length, 4);

    // 3. A new policy version replaces the policy's series; the others stay.
    const grant = create(GrantSchema, { users: ['bob@example.com'] });
    h.store.apply(
      {
        kind: 'policy',
        value: translatePolicy(create(ServerPolicySchema, { server: 'demo', grants: [grant] }), 'demo'),
      },
      'v2-3f9a',
      'n5',
    );
    ({ samples } = await scrape(h));
    assert.equal(
      sampleValue(samples, 'tessera_proxy_config_info', { type: 'policy', version: 'v2-3f9a' }),
      1,
    );
    assert.equal(
      sampleValue(samples, 'tessera_proxy_config_info', { type: 'policy', version: 'v1' }),
      undefined,
    );
    assert.equal(sampleValue(samples, 'tessera_proxy_config_info', { type: 'trust', version: 'v1' }), 1);
    assert.equal(samplesOf(samples, 'tessera_proxy_config_info').length, 4);
    assert.equal(sampleValue(samples, 'tessera_proxy_config_ready'), 1);
    assert.equal((await fetch(`${h.url}/readyz`)).status, 200);
  });
});

describe('upstream errors', () => {
  test('an unreachable upstream counts as unavailable', async () => {
    const h = await startHarness({
      upstream: createHttpUpstream({ url: new URL(`http://127.0.0.1:${await freePort()}/mcp`), log: noLog }),
      metrics: createProxyMetrics({ processMetrics: false }),
    });
    cleanups.push(() => h.close());
    assert.equal((await post(h, rpc('tools/list'))).status, 502);
    const { samples } = await scrape(h);
    assert.equal(sampleValue(samples, 'tessera_proxy_upstream_errors_total', { kind: 'unavailable' }), 1);
    assert.equal(sampleValue(samples, 'tessera_proxy_upstream_errors_total', { kind: 'timeout' }), 0);
    assert.equal(
      sampleValue(samples, 'tessera_proxy_requests_total', {
        method: 'tools/list',
        outcome: 'error',
        status: '502',
      }),
      1,
    );
    assert.equal(
      sampleValue(samples, 'tessera_proxy_decisions_total', { decision: 'allow', reason: 'grant' }),
      1,
    );
  });

  test('an upstream that does not answer counts as a timeout', async () => {
    const { h } = await fixtureAndHarness({ headersTimeoutMs: 200 });
    assert.equal((await post(h, rpc('hang'))).status, 504);
    const { samples } = await scrape(h);
    assert.equal(sampleValue(samples, 'tessera_proxy_upstream_errors_total', { kind: 'timeout' }), 1);
    assert.equal(sampleValue(samples, 'tessera_proxy_upstream_errors_total', { kind: 'unavailable' }), 0);
  });

  test('a stdio server that exits counts as exited', async () => {
    const h = await startHarness({
      upstream: createStdioUpstream({ command: process.execPath, args: [FIXTURE], log: noLog }),
      metrics: createProxyMetrics({ processMetrics: false }),
    });
    cleanups.push(() => h.close());
    const init = await post(
      h,
      rpc('initialize', {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'telemetry-test', version: '1' },
      }),
    );
    assert.equal(init.status, 200);
    const session = init.headers.get('mcp-session-id')!;
    assert.ok(session);
    const crash = await post(h, rpc('fixture/crash', {}, 2), { headers: { 'mcp-session-id': session } });
    assert.equal(crash.status, 502);
    const { samples } = await scrape(h);
    assert.equal(sampleValue(samples, 'tessera_proxy_upstream_errors_total', { kind: 'exited' }), 1);
    assert.equal(sampleValue(samples, 'tessera_proxy_upstream_errors_total', { kind: 'unavailable' }), 0);
  });
});

describe('W3C trace context', () => {
  test('without a traceparent the proxy starts a trace, sends it upstream and logs its id', async () => {
    const logs: LogEntry[] = [];
    const { fixture, h } = await fixtureAndHarness({ logs });
    await post(h, rpc('tools/list'), { headers: { tracestate: 'orphan=1' } });
    const sent = fixture.seen.at(-1)!;
    assert.match(String(sent.traceparent), TRACEPARENT);
    const parsed = parseTraceparent(sent.traceparent)!;
    assert.ok(parsed, 'the generated traceparent is valid');
    assert.equal(sent.tracestate, undefined, 'a tracestate without a traceparent is dropped');
    const line = logs.find((l) => l.msg === 'request');
    assert.equal(line?.level, 'debug');
    assert.equal(line?.fields.traceId, parsed.traceId);
    assert.equal(line?.fields.spanId, parsed.parentId);
    assert.equal(line?.fields.parentSpanId, undefined);
    assert.equal(line?.fields.eventId, h.audit.at(-1)?.eventId);
    // Each request gets a trace of its own.
    await post(h, rpc('tools/list'));
    assert.notEqual(parseTraceparent(fixture.seen.at(-1)!.traceparent)!.traceId, parsed.traceId);
  });

  test('a valid traceparent keeps its trace id, gets the proxy as the parent, and keeps its tracestate', async () => {
    const logs: LogEntry[] = [];
    const { fixture, h } = await fixtureAndHarness({ logs });
    const traceparent = `00-${TRACE_ID}-${PARENT_ID}-01`;
    await post(h, rpc('tools/list'), { headers: { traceparent, tracestate: 'congo=t61rcWkgMzE' } });
    const sent = fixture.seen.at(-1)!;
    const parsed = parseTraceparent(sent.traceparent)!;
    assert.equal(parsed.traceId, TRACE_ID);
    assert.notEqual(parsed.parentId, PARENT_ID);
    assert.equal(parsed.flags, 1);
    assert.equal(sent.tracestate, 'congo=t61rcWkgMzE');
    const line = logs.find((l) => l.msg === 'request');
    assert.equal(line?.fields.traceId, TRACE_ID);
    assert.equal(line?.fields.parentSpanId, PARENT_ID);
    assert.equal(line?.fields.spanId, parsed.parentId);
  });

  test('a traceparent in params._meta is continued when the headers carry none; the headers win otherwise', async () => {
    const logs: LogEntry[] = [];
    const { fixture, h } = await fixtureAndHarness({ logs });
    const meta = { traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`, tracestate: 'congo=t61rcWkgMzE' };
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: meta } });
    await post(h, body);
    const sent = fixture.seen.at(-1)!;
    const parsed = parseTraceparent(sent.traceparent)!;
    assert.equal(parsed.traceId, TRACE_ID);
    assert.notEqual(parsed.parentId, PARENT_ID, "the proxy is the upstream request's parent");
    assert.equal(sent.tracestate, 'congo=t61rcWkgMzE');
    assert.equal(h.audit.at(-1)!.traceId, TRACE_ID);
    assert.equal(logs.find((l) => l.msg === 'request')?.fields.parentSpanId, PARENT_ID);

    const other = '0af7651916cd43dd8448eb211c80319c';
    await post(h, body, { headers: { traceparent: `00-${other}-b7ad6b7169203331-01` } });
    assert.equal(parseTraceparent(fixture.seen.at(-1)!.traceparent)!.traceId, other);
    assert.equal(h.audit.at(-1)!.traceId, other);

    // An invalid one in _meta starts a new trace, as an invalid header does.
    const bad = { ...meta, traceparent: `00-${'0'.repeat(32)}-${PARENT_ID}-01` };
    await post(h, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list', params: { _meta: bad } }));
    const fresh = h.audit.at(-1)!.traceId;
    assert.match(fresh, /^[0-9a-f]{32}$/);
    assert.notEqual(fresh, '0'.repeat(32));
    assert.notEqual(fresh, TRACE_ID);
  });

  test('an unsampled caller stays unsampled', async () => {
    const { fixture, h } = await fixtureAndHarness();
    await post(h, rpc('ping'), { headers: { traceparent: `00-${TRACE_ID}-${PARENT_ID}-00` } });
    assert.match(String(fixture.seen.at(-1)!.traceparent), new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-00$`));
  });

  const invalid: Array<[string, string]> = [
    ['an all-zero trace id', `00-${'0'.repeat(32)}-${PARENT_ID}-01`],
    ['an all-zero parent id', `00-${TRACE_ID}-${'0'.repeat(16)}-01`],
    ['upper-case hex', `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`],
    ['a short header', `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`],
    ['a long version-00 header', `00-${TRACE_ID}0-${PARENT_ID}-01`],
    ['version ff', `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ['garbage', 'not-a-traceparent'],
  ];
  for (const [name, traceparent] of invalid) {
    test(`a traceparent with ${name} is replaced by a new trace`, async () => {
      const { fixture, h } = await fixtureAndHarness();
      await post(h, rpc('tools/list'), { headers: { traceparent, tracestate: 'congo=t61rcWkgMzE' } });
      const sent = fixture.seen.at(-1)!;
      assert.match(String(sent.traceparent), TRACEPARENT);
      assert.notEqual(sent.traceparent, traceparent);
      const parsed = parseTraceparent(sent.traceparent)!;
      assert.notEqual(parsed.traceId, TRACE_ID);
      assert.notEqual(parsed.traceId, TRACE_ID.toUpperCase());
      assert.equal(sent.tracestate, undefined);
    });
  }

  test('a GET stream carries the trace too', async () => {
    const { fixture, h } = await fixtureAndHarness();
    const res = await fetch(`${h.url}/mcp`, {
      headers: {
        authorization: `Bearer ${await h.token()}`,
        accept: 'text/event-stream',
        traceparent: `00-${TRACE_ID}-${PARENT_ID}-01`,
      },
    });
    await res.arrayBuffer();
    const sent = fixture.seen.at(-1)!;
    assert.equal(parseTraceparent(sent.traceparent)?.traceId, TRACE_ID);
    assert.notEqual(parseTraceparent(sent.traceparent)?.parentId, PARENT_ID);
  });
});
