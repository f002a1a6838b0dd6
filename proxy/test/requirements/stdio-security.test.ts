/**
 * Checklist tests that no other file had, for the "stdio sidecars" and "Security" parts of
 * `../shared/reference/mcp-gateway-requirements.md`: what the proxy writes to a stdio child's stdin, the
 * order of a child's shutdown, the argv a child is spawned with, and, at the socket level, that `$ref`
 * URIs in tool schemas are never fetched, that tool annotations, clientInfo and serverInfo never change a
 * policy decision, and what the audit event of a tools/call holds.
 *
 * Real sockets and real processes throughout: the proxy's own listener (`startHarness`, or the stdio
 * harness), `node:http` upstreams started here, and small stdio servers run with `node -e`.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { argumentsDigest } from '../../src/audit/body-capture.ts';
import { parseTraceparent } from '../../src/telemetry/trace-context.ts';
import { createHttpUpstream } from '../../src/upstream/http-upstream.ts';
import { createStdioUpstream } from '../../src/upstream/stdio-upstream.ts';
import {
  alive,
  type Harness as StdioHarness,
  startProxy,
  call as stdioCall,
  initialize as stdioInitialize,
  request as stdioRequest,
  waitFor,
} from '../fixtures/stdio-harness.ts';
import { type Harness, startHarness } from '../helpers/harness.ts';

const HANG_GUARD = { timeout: 30_000 };
const LEGACY = '2025-11-25';
const MODERN = '2026-07-28';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function harness(options: Parameters<typeof startHarness>[0]): Promise<Harness> {
  const h = await startHarness(options);
  cleanups.push(() => h.close());
  return h;
}

async function stdioProxy(options: Parameters<typeof startProxy>[0]): Promise<StdioHarness> {
  const h = await startProxy(options);
  cleanups.push(() => h.close());
  return h;
}

/** Starts a `node:http` server on 127.0.0.1; closed after the file. */
async function listen(
  handler: (
    req: IncomingMessage,
    body: string,
  ) => {
    status?: number;
    headers?: Record<string, string>;
    body?: string;
  },
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => {
      body += d.toString();
    });
    req.on('end', () => {
      const out = handler(req, body);
      res.writeHead(out.status ?? 200, { 'content-type': 'application/json', ...out.headers });
      res.end(out.body ?? '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A JSON-RPC answer as these tests read it. */
interface RpcAnswer {
  jsonrpc?: string;
  id?: unknown;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

/** POSTs a raw body to the proxy's MCP endpoint and reads the whole answer. */
async function postRaw(
  h: Harness,
  body: string,
  headers: Record<string, string> = {},
  token?: string,
): Promise<{ status: number; headers: Headers; text: string; json: RpcAnswer | undefined }> {
  const res = await fetch(`${h.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token ?? (await h.token())}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body,
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    text,
    json: text.startsWith('{') ? (JSON.parse(text) as RpcAnswer) : undefined,
  };
}

/** A modern (2026-07-28) request: `_meta` envelope plus the metadata headers. */
function modern(
  h: Harness,
  id: number | string,
  method: string,
  params: Record<string, unknown>,
  headers: Record<string, string> = {},
  meta: Record<string, unknown> = {},
) {
  const name: Record<string, string> = typeof params.name === 'string' ? { 'mcp-name': params.name } : {};
  const body = {
    jsonrpc: '2.0',
    id,
    method,
    params: {
      ...params,
      _meta: {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientCapabilities': {},
        ...meta,
      },
    },
  };
  return postRaw(h, JSON.stringify(body), {
    'mcp-protocol-version': MODERN,
    'mcp-method': method,
    ...name,
    ...headers,
  });
}

/**
 * A stdio MCP server that keeps every raw line it reads on stdin (split on LF only, so a CR or a
 * message spread over lines would show). `raw/lines` answers them; any other request echoes its params.
 */
const RAW_LINES_SERVER = `
const lines = [];
let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  for (let nl = buffer.indexOf('\\n'); nl !== -1; nl = buffer.indexOf('\\n')) {
    const line = buffer.slice(0, nl);
    buffer = buffer.slice(nl + 1);
    lines.push(line);
    let msg;
    try { msg = JSON.parse(line); } catch { continue; }
    if (msg.id === undefined || typeof msg.method !== 'string') continue;
    const result = msg.method === 'initialize'
      ? { protocolVersion: '${LEGACY}', capabilities: {}, serverInfo: { name: 'raw-lines', version: '1' } }
      : msg.method === 'raw/lines' ? { lines } : { params: msg.params ?? {} };
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }) + '\\n');
  }
});
process.stdin.on('end', () => process.exit(0));
`;

/**
 * A stdio MCP server for shutdown tests; argv[1] picks how it reacts:
 * - `exit-on-stdin`: exits 0 once stdin closes;
 * - `exit-on-sigterm`: ignores stdin closing, SIGTERM (default action) ends it;
 * - `stubborn`: ignores stdin closing and SIGTERM; only SIGKILL ends it.
 * It reports each event on stderr, which the proxy logs line by line.
 */
const SHUTDOWN_SERVER = `
const mode = process.argv[1];
setInterval(() => {}, 1 << 30);
if (mode === 'stubborn') process.on('SIGTERM', () => process.stderr.write('SIGTERM received\\n'));
let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  for (let nl = buffer.indexOf('\\n'); nl !== -1; nl = buffer.indexOf('\\n')) {
    const msg = JSON.parse(buffer.slice(0, nl));
    buffer = buffer.slice(nl + 1);
    if (msg.id === undefined) continue;
    const result = msg.method === 'initialize'
      ? { protocolVersion: '${LEGACY}', capabilities: {}, serverInfo: { name: 'shutdown', version: '1' } }
      : { pid: process.pid };
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }) + '\\n');
  }
});
process.stdin.on('end', () => {
  process.stderr.write('stdin closed\\n');
  if (mode === 'exit-on-stdin') process.exit(0);
});
process.stderr.write('ready\\n');
`;

/** A stdio MCP server whose every answer reports its own argv (after the script). */
const ARGV_SERVER = `
let buffer = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  buffer += chunk;
  for (let nl = buffer.indexOf('\\n'); nl !== -1; nl = buffer.indexOf('\\n')) {
    const msg = JSON.parse(buffer.slice(0, nl));
    buffer = buffer.slice(nl + 1);
    if (msg.id === undefined) continue;
    const result = msg.method === 'initialize'
      ? { protocolVersion: '${LEGACY}', capabilities: {}, serverInfo: { name: 'argv', version: '1' } }
      : { argv: process.argv.slice(1) };
    process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }) + '\\n');
  }
});
process.stdin.on('end', () => process.exit(0));
`;

describe('stdio sidecars', () => {
  test(
    'a request body spread over several lines reaches the stdio child as exactly one JSON line',
    HANG_GUARD,
    async () => {
      const h = await harness({
        upstream: createStdioUpstream({ command: process.execPath, args: ['-e', RAW_LINES_SERVER] }),
      });
      // Pretty-printed with CRLF line breaks: the body the client sent spans many lines.
      const spread = (message: unknown) => JSON.stringify(message, null, 2).replaceAll('\n', '\r\n');
      const params = { protocolVersion: LEGACY, capabilities: {}, clientInfo: { name: 't', version: '1' } };
      const init = await postRaw(h, spread({ jsonrpc: '2.0', id: 1, method: 'initialize', params }));
      assert.equal(init.status, 200, init.text);
      const session = init.headers.get('mcp-session-id');
      assert.ok(session, 'a session was created');
      const inSession = { 'mcp-session-id': session, 'mcp-protocol-version': LEGACY };
      const initialized = await postRaw(
        h,
        spread({ jsonrpc: '2.0', method: 'notifications/initialized' }),
        inSession,
      );
      assert.equal(initialized.status, 202);
      // Line breaks and CRs inside string values are data; they must stay escaped on the child's stdin.
      const payload = { text: 'first\nsecond\r\nthird', nested: { list: [1, 'a\u2028b'] } };
      const echo = await postRaw(
        h,
        spread({ jsonrpc: '2.0', id: 2, method: 'raw/echo', params: payload }),
        inSession,
      );
      assert.equal(echo.status, 200, echo.text);
      assert.deepEqual(echo.json, { jsonrpc: '2.0', id: 2, result: { params: payload } });

      const got = await postRaw(h, JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'raw/lines' }), inSession);
      const lines = got.json?.result?.lines as string[];
      // One line per message, nothing else: each line is a complete JSON-RPC object with no CR in it.
      assert.deepEqual(
        lines.map((l) => (JSON.parse(l) as { method: string }).method),
        ['initialize', 'notifications/initialized', 'raw/echo', 'raw/lines'],
      );
      for (const line of lines) {
        assert.doesNotMatch(line, /\r/, line);
        assert.equal((JSON.parse(line) as { jsonrpc: string }).jsonrpc, '2.0');
      }
      assert.deepEqual((JSON.parse(lines[2]!) as { params: unknown }).params, payload);
    },
  );

  /**
   * The shutdown of one session's child, as the proxy's log shows it. The waits are generous so that a
   * child that has just answered a request has long reported its stdin closing before any signal.
   */
  async function shutdown(mode: string, closeTimeoutMs: number, killTimeoutMs: number) {
    const h = await stdioProxy({ args: ['-e', SHUTDOWN_SERVER, mode], closeTimeoutMs, killTimeoutMs });
    const session = await stdioInitialize(h);
    const pid = h.logs.find((l) => l.msg === 'MCP server process started')?.fields.pid as number;
    assert.equal(typeof pid, 'number');
    assert.equal((await stdioCall(h, 1, 'shutdown/pid', {}, { session })).body.result?.pid, pid);
    assert.equal((await stdioRequest(h, 'DELETE', { session })).status, 204);
    const exited = (l: { msg: string; fields: Record<string, unknown> }) =>
      l.msg.startsWith('MCP server process exited') && l.fields.pid === pid;
    await waitFor(() => h.logs.some(exited), 'the child to exit');
    assert.equal(alive(pid), false);
    const ofChild = h.logs.filter((l) => l.fields.pid === pid);
    return {
      exit: ofChild.find(exited)!,
      // What the child saw and what the proxy did, in the order the proxy logged them.
      events: ofChild
        .filter((l) => l.msg === 'MCP server stderr' || l.msg === 'signalling MCP server process')
        .map((l) =>
          l.msg === 'MCP server stderr' ? String(l.fields.line) : `proxy sent ${l.fields.signal}`,
        ),
    };
  }

  test(
    'shutdown closes stdin and waits: a child that exits then is never signalled',
    HANG_GUARD,
    async () => {
      // A SIGTERM within this wait would show in the log and in the exit.
      const { exit, events } = await shutdown('exit-on-stdin', 60_000, 60_000);
      assert.deepEqual(events, ['ready', 'stdin closed']);
      assert.equal(exit.msg, 'MCP server process exited');
      assert.equal(exit.fields.code, 0);
      assert.equal(exit.fields.signal, null);
    },
  );

  test(
    'shutdown sends SIGTERM after closing stdin to a child that keeps running, and no SIGKILL when that ends it',
    HANG_GUARD,
    async () => {
      const { exit, events } = await shutdown('exit-on-sigterm', 1_500, 60_000);
      assert.deepEqual(events, ['ready', 'stdin closed', 'proxy sent SIGTERM']);
      assert.equal(exit.fields.signal, 'SIGTERM');
    },
  );

  test(
    'shutdown escalates stdin close, SIGTERM, SIGKILL in that order for a child that ignores the first two',
    HANG_GUARD,
    async () => {
      const { exit, events } = await shutdown('stubborn', 1_500, 2_000);
      assert.deepEqual(events, [
        'ready',
        'stdin closed',
        'proxy sent SIGTERM',
        'SIGTERM received',
        'proxy sent SIGKILL',
      ]);
      assert.equal(exit.fields.signal, 'SIGKILL');
    },
  );

  test(
    'the configured argv reaches the child literally, without a shell, whatever the request carries',
    HANG_GUARD,
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tessera-argv-'));
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
      const marker = join(dir, 'pwned');
      // Each of these would do something through a shell: substitute, chain, glob, expand or split.
      const args = [
        `$(touch ${marker})`,
        `; touch ${marker}`,
        `\`touch ${marker}\``,
        '*',
        '$HOME',
        'a b',
        `> ${marker}`,
      ];
      const h = await stdioProxy({ args: ['-e', ARGV_SERVER, '--', ...args] });
      const session = await stdioInitialize(h);
      // The request names a command of its own; it is only data for the server.
      const { status, body } = await stdioCall(
        h,
        1,
        'argv/report',
        { command: '/bin/sh', args: ['-c', `touch ${marker}`] },
        { session },
      );
      assert.equal(status, 200);
      assert.deepEqual(body.result?.argv, args);
      assert.equal(existsSync(marker), false, 'nothing ran through a shell');
      assert.equal(h.logs.filter((l) => l.msg === 'MCP server process started').length, 1);
    },
  );
});

describe('security', () => {
  test(
    'a network $ref in a tool inputSchema is never fetched, while the schema is still read',
    HANG_GUARD,
    async () => {
      const schemaHits: string[] = [];
      const schemaHost = await listen((req) => {
        schemaHits.push(req.url ?? '');
        return { body: JSON.stringify({ type: 'string', 'x-mcp-header': 'Remote' }) };
      });
      const calls: string[] = [];
      const inputSchema = {
        $id: `${schemaHost.url}/root.json`,
        type: 'object',
        properties: {
          region: { type: 'string', 'x-mcp-header': 'Region' },
          remote: { $ref: `${schemaHost.url}/remote.json` },
        },
        allOf: [{ $ref: `${schemaHost.url}/more.json#/defs/x` }],
      };
      const upstream = await listen((_req, raw) => {
        const msg = JSON.parse(raw) as { id: number; method: string; params?: { name?: string } };
        if (msg.method === 'tools/call') calls.push(msg.params?.name ?? '');
        const result =
          msg.method === 'tools/list' ? { tools: [{ name: 'lookup', inputSchema }] } : { content: [] };
        return { body: JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }) };
      });
      const h = await harness({
        upstream: createHttpUpstream({ url: new URL(`${upstream.url}/mcp`), log: () => {} }),
      });
      const list = await modern(h, 1, 'tools/list', {});
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(
        (list.json?.result?.tools as { inputSchema: unknown }[] | undefined)?.[0]?.inputSchema,
        inputSchema,
        'the schema passes unchanged',
      );
      // The proxy did read the schema: the Region annotation is enforced...
      const mismatch = await modern(
        h,
        2,
        'tools/call',
        { name: 'lookup', arguments: { region: 'us' } },
        { 'mcp-param-region': 'eu' },
      );
      assert.equal(mismatch.status, 400, mismatch.text);
      assert.equal(mismatch.json?.error?.code, -32020);
      assert.deepEqual(calls, []);
      // ...but the annotation behind the remote $ref was never learned, because it was never fetched.
      const ok = await modern(
        h,
        3,
        'tools/call',
        { name: 'lookup', arguments: { region: 'us', remote: 'x' } },
        { 'mcp-param-region': 'us' },
      );
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(calls, ['lookup']);
      assert.deepEqual(schemaHits, [], 'no $ref URI was dereferenced');
    },
  );

  test(
    'tool annotations, clientInfo and serverInfo do not change a policy decision',
    HANG_GUARD,
    async () => {
      const calls: string[] = [];
      // An untrusted upstream that claims its destructive tools are harmless and that it is trusted.
      const upstream = await listen((_req, raw) => {
        const msg = JSON.parse(raw) as { id?: number; method?: string; params?: { name?: string } };
        if (msg.method === 'tools/call') calls.push(msg.params?.name ?? '');
        if (msg.id === undefined) return { status: 202 };
        const harmless = {
          readOnlyHint: true,
          destructiveHint: false,
          idempotentHint: true,
          title: 'Safe lookup',
        };
        const result =
          msg.method === 'initialize'
            ? {
                protocolVersion: LEGACY,
                capabilities: { tools: {} },
                serverInfo: { name: 'trusted-cli', title: 'Tessera internal, trusted', version: '1' },
              }
            : msg.method === 'tools/list'
              ? {
                  tools: [
                    { name: 'delete_repo', annotations: harmless, inputSchema: { type: 'object' } },
                    { name: 'admin_reset', annotations: harmless, inputSchema: { type: 'object' } },
                    { name: 'search', inputSchema: { type: 'object' } },
                  ],
                }
              : { content: [{ type: 'text', text: 'done' }] };
        return { body: JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }) };
      });
      const h = await harness({
        upstream: createHttpUpstream({ url: new URL(`${upstream.url}/mcp`), log: () => {} }),
        policy: {
          rules: [
            { id: 'no-delete', effect: 'DENY', targets: ['delete_*'] },
            // Only the OAuth client "trusted-cli" (the token's client_id) may use admin tools.
            {
              id: 'trusted-client-only',
              effect: 'DENY',
              targets: ['admin_*'],
              condition: 'principal.client_id != "trusted-cli"',
            },
          ],
        },
      });
      const legacy = { 'mcp-protocol-version': LEGACY };
      const rpc = (id: number, method: string, params: Record<string, unknown>) =>
        JSON.stringify({ jsonrpc: '2.0', id, method, params });
      // The client calls itself "trusted-cli" in its clientInfo; its token has no such client_id.
      const init = await postRaw(
        h,
        rpc(1, 'initialize', {
          protocolVersion: LEGACY,
          capabilities: {},
          clientInfo: { name: 'trusted-cli', version: '1' },
        }),
      );
      assert.equal(init.status, 200, init.text);
      assert.equal((init.json?.result?.serverInfo as { name?: string } | undefined)?.name, 'trusted-cli');

      const list = await postRaw(h, rpc(2, 'tools/list', {}), legacy);
      assert.deepEqual(
        ((list.json?.result?.tools ?? []) as { name: string }[]).map((t) => t.name),
        ['search'],
        'read-only annotations do not keep a denied tool in the list',
      );
      // One at a time, so that each audit event read back is the refusal's own.
      const refusals: [string, string, () => ReturnType<typeof postRaw>][] = [
        [
          'delete_repo',
          'no-delete',
          () => postRaw(h, rpc(3, 'tools/call', { name: 'delete_repo', arguments: {} }), legacy),
        ],
        [
          'admin_reset',
          'trusted-client-only',
          () => postRaw(h, rpc(4, 'tools/call', { name: 'admin_reset', arguments: {} }), legacy),
        ],
        [
          'admin_reset',
          'trusted-client-only',
          () =>
            modern(
              h,
              5,
              'tools/call',
              { name: 'admin_reset', arguments: {} },
              {},
              {
                'io.modelcontextprotocol/clientInfo': { name: 'trusted-cli', version: '1' },
              },
            ),
        ],
      ];
      for (const [tool, rule, send] of refusals) {
        const r = await send();
        assert.equal(r.status, 403, `${tool}: ${r.text}`);
        assert.equal(r.json?.error?.code, -31003);
        assert.match(r.json?.error?.message ?? '', new RegExp(`denied by rule "${rule}"`));
        assert.equal(h.audit.at(-1)?.target, tool);
        assert.equal(h.audit.at(-1)?.ruleId, rule);
      }
      assert.deepEqual(calls, [], 'no denied call reached the upstream');
      // The same caller's allowed call goes through: the refusals are the rules', not a broken upstream.
      const allowed = await postRaw(h, rpc(6, 'tools/call', { name: 'search', arguments: {} }), legacy);
      assert.equal(allowed.status, 200, allowed.text);
      assert.deepEqual(calls, ['search']);
    },
  );

  test(
    'a tools/call is audited with principal, tool, arguments digest, result status, latency and trace id',
    HANG_GUARD,
    async () => {
      const seen: { name: string; traceparent: string | undefined }[] = [];
      const upstream = await listen((req, raw) => {
        const msg = JSON.parse(raw) as { id: number; params?: { name?: string } };
        const name = msg.params?.name ?? '';
        seen.push({ name, traceparent: req.headers.traceparent as string | undefined });
        const answer =
          name === 'broken'
            ? { jsonrpc: '2.0', id: msg.id, error: { code: -32603, message: 'tool crashed' } }
            : { jsonrpc: '2.0', id: msg.id, result: { content: [{ type: 'text', text: 'ok' }] } };
        return { body: JSON.stringify(answer) };
      });
      const h = await harness({
        upstream: createHttpUpstream({ url: new URL(`${upstream.url}/mcp`), log: () => {} }),
      });
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const args = { query: 'tessera', limit: 5, filters: { lang: ['ts', 'go'] } };
      const ok = await postRaw(
        h,
        JSON.stringify({
          jsonrpc: '2.0',
          id: 41,
          method: 'tools/call',
          params: { name: 'search', arguments: args },
        }),
        { 'mcp-protocol-version': LEGACY, traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
      );
      assert.equal(ok.status, 200, ok.text);
      const failed = await postRaw(
        h,
        JSON.stringify({
          jsonrpc: '2.0',
          id: 42,
          method: 'tools/call',
          params: { name: 'broken', arguments: {} },
        }),
        { 'mcp-protocol-version': LEGACY },
      );
      assert.equal(failed.status, 200, failed.text);
      assert.equal(failed.json?.error?.code, -32603);

      const calls = h.audit.filter((a) => a.method === 'tools/call');
      assert.equal(calls.length, 2, 'one audit event per tools/call');
      const [a, b] = calls as [(typeof calls)[0], (typeof calls)[0]];
      assert.equal(a.user, 'alice@example.com');
      assert.equal(a.target, 'search');
      assert.equal(a.requestId, '41');
      assert.equal(a.argumentsDigest, argumentsDigest(args));
      assert.match(a.argumentsDigest ?? '', /^[0-9a-f]{64}$/);
      assert.equal(a.outcome, 'ok');
      assert.equal(a.httpStatus, 200);
      assert.equal(a.errorCode, 0);
      assert.ok(Number.isInteger(a.latencyUs) && a.latencyUs >= 0, String(a.latencyUs));
      assert.equal(a.traceId, traceId, "the caller's trace is kept");
      assert.equal(parseTraceparent(seen[0]?.traceparent)?.traceId, traceId, 'and is the one sent upstream');
      // The failing call: its status is the upstream's JSON-RPC error, and it has a trace of its own.
      assert.equal(b.target, 'broken');
      assert.equal(b.argumentsDigest, argumentsDigest({}));
      assert.equal(b.outcome, 'error');
      assert.equal(b.errorCode, -32603);
      assert.equal(b.traceId, parseTraceparent(seen[1]?.traceparent)?.traceId);
      assert.match(b.traceId, /^[0-9a-f]{32}$/);
      assert.notEqual(b.traceId, traceId);
    },
  );
});
