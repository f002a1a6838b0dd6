/**
 * The proxy in sidecar mode on real sockets: a real HTTP MCP server (server-everything in
 * streamableHttp mode) through the proxy with the MCP SDK client, and a controllable upstream for
 * streaming, credential stripping, cancellation and every kind of bad input.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { createSidecarUpstream } from '../src/upstream/sidecar-upstream.ts';
import { startEverythingHttp } from './helpers/everything-http.ts';
import { freePort } from './helpers/free-port.ts';
import { type Harness, RESOURCE, startHarness } from './helpers/harness.ts';
import { modernCall } from './helpers/modern-client.ts';

const noLog = () => {};

describe('with server-everything over Streamable HTTP', () => {
  let child: ChildProcess;
  let h: Harness;

  before(async () => {
    const everything = await startEverythingHttp();
    child = everything.child;
    h = await startHarness({ upstream: createHttpUpstream({ url: everything.url, log: noLog }) });
  });

  after(async () => {
    await h?.close();
    child?.kill();
  });

  test('initialize, tools/list and tools/call echo with the SDK client', async () => {
    const client = new Client({ name: 'sidecar-test', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${await h.token()}` } },
      }),
    );
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'echo'));
    const r = await client.callTool({ name: 'echo', arguments: { message: 'via sidecar' } });
    assert.match(JSON.stringify(r.content), /via sidecar/);
    await client.close();
    const call = h.audit.find((a) => a.method === 'tools/call');
    assert.equal(call?.target, 'echo');
    assert.equal(call?.outcome, 'ok');
    assert.equal(call?.user, 'alice@example.com');
    assert.ok(call.responseBytes > 0);
  });
  test('a prompt, a resource read and a tool with progress notifications, through the proxy', async () => {
    const client = new Client({ name: 'sidecar-test', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), {
        requestInit: { headers: { authorization: `Bearer ${await h.token()}` } },
      }),
    );
    const prompt = await client.getPrompt({ name: 'simple-prompt' });
    assert.ok(prompt.messages.length > 0);
    const { resources } = await client.listResources();
    assert.ok(resources.length > 0, 'server-everything lists resources');
    const read = await client.readResource({ uri: resources[0]!.uri });
    assert.equal(read.contents[0]?.uri, resources[0]!.uri);
    const progress: number[] = [];
    const r = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress), timeout: 60_000 },
    );
    assert.match(JSON.stringify(r.content), /completed/i);
    assert.deepEqual(progress, [1, 2, 3], 'every progress notification streamed through');
    await client.close();
    const methods = h.audit.map((a) => a.method);
    for (const m of ['prompts/get', 'resources/read', 'tools/call']) assert.ok(methods.includes(m), m);
  });
});

describe('modern (2026-07-28) clients and the server beside the sidecar', () => {
  const clientInfo = { name: 'tessera-proxy', version: 'test' };

  test('a server that only speaks 2025-11-25 serves them through sessions the proxy opens', async () => {
    const everything = await startEverythingHttp();
    const h = await startHarness({
      upstream: createSidecarUpstream({ url: everything.url, log: noLog, clientInfo }),
    });
    try {
      const url = `${h.url}/mcp`;
      const token = await h.token();
      const discover = await modernCall(url, token, 1, 'server/discover');
      assert.equal(discover.status, 200);
      assert.deepEqual(discover.answer.result?.supportedVersions, ['2026-07-28']);
      const meta = discover.answer.result?._meta as Record<string, { name: string }> | undefined;
      assert.match(meta?.['io.modelcontextprotocol/serverInfo']?.name ?? '', /everything/i);
      const list = await modernCall(url, token, 'l', 'tools/list');
      assert.equal(list.answer.id, 'l');
      assert.equal(list.answer.result?.resultType, 'complete');
      assert.ok(
        (list.answer.result?.tools as { name: string }[] | undefined)?.some((t) => t.name === 'echo'),
      );
      const echo = await modernCall(url, token, 7, 'tools/call', {
        name: 'echo',
        arguments: { message: 'hi' },
      });
      assert.equal(echo.status, 200);
      assert.equal(echo.answer.id, 7);
      assert.match(JSON.stringify(echo.answer.result?.content), /hi/);
      // Legacy clients still talk to the server directly, with their own session.
      const client = new Client({ name: 'legacy', version: '1' });
      await client.connect(
        new StreamableHTTPClientTransport(new URL(url), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        }),
      );
      assert.ok((await client.listTools()).tools.some((t) => t.name === 'echo'));
      await client.close();
    } finally {
      await h.close();
      everything.child.kill();
    }
  });

  /**
   * A 2026-07-28 server answering `server/discover` and `tools/list`, recording each message; while
   * `refusing()` holds it answers 401 instead, as a server behind its own authentication would.
   */
  async function startModernServer(refusing: () => boolean = () => false) {
    const seen: { id: unknown; method: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => {
        body += d.toString();
      });
      req.on('end', () => {
        const msg = JSON.parse(body) as { id: unknown; method: string };
        seen.push(msg);
        if (refusing()) {
          res
            .writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' })
            .end(JSON.stringify({ error: 'unauthorized' }));
          return;
        }
        const result =
          msg.method === 'server/discover'
            ? {
                resultType: 'complete',
                supportedVersions: ['2026-07-28'],
                capabilities: {},
                ttlMs: 0,
                cacheScope: 'public',
              }
            : { resultType: 'complete', tools: [], ttlMs: 0, cacheScope: 'public' };
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
    const h = await startHarness({ upstream: createSidecarUpstream({ url, log: noLog, clientInfo }) });
    return {
      h,
      seen,
      async close() {
        await h.close();
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      },
    };
  }

  test('a server that speaks 2026-07-28 gets modern requests as they are', async () => {
    const { h, seen, close } = await startModernServer();
    try {
      const list = await modernCall(`${h.url}/mcp`, await h.token(), 'x', 'tools/list');
      assert.equal(list.status, 200);
      assert.deepEqual(
        seen.map((m) => [m.method, m.id]),
        [
          ['server/discover', 'tessera-probe'],
          ['tools/list', 'x'],
        ],
        'the probe, then the client’s own request, unchanged',
      );
    } finally {
      await close();
    }
  });

  test('a server that refuses the probe (401) decides nothing: the request goes as it is, and the next one asks again', async () => {
    let open = false;
    const { h, seen, close } = await startModernServer(() => !open);
    try {
      const refused = await modernCall(`${h.url}/mcp`, await h.token(), 'a', 'tools/list');
      assert.equal(refused.status, 401, 'the server’s own refusal reaches the client');
      assert.deepEqual(
        seen.map((m) => m.method),
        ['server/discover', 'tools/list'],
        'not bridged: sent as it came',
      );
      open = true;
      const served = await modernCall(`${h.url}/mcp`, await h.token(), 'b', 'tools/list');
      assert.equal(served.status, 200);
      assert.deepEqual(
        seen.slice(2).map((m) => m.method),
        ['server/discover', 'tools/list'],
        'asked again, and found a 2026-07-28 server: no session opened',
      );
    } finally {
      await close();
    }
  });
});

describe('with a controllable upstream', () => {
  let upstream: Server;
  let h: Harness;
  const seen: IncomingMessage[] = [];
  let release: (() => void) | undefined;
  let upstreamClosed: Promise<void> | undefined;

  before(async () => {
    upstream = createServer((req, res) => {
      seen.push(req);
      let body = '';
      req.on('data', (d: Buffer) => {
        body += d.toString();
      });
      req.on('end', () => {
        const msg = JSON.parse(body || '{}') as { id?: number; method?: string };
        if (msg.method === 'stream') {
          // First event now; the final answer only when the test releases it.
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          res.write(
            `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1 } })}\n\n`,
          );
          release = () =>
            res.end(
              `event: message\ndata: ${JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: {} })}\n\n`,
            );
          upstreamClosed = new Promise((r) => res.once('close', () => r()));
          return;
        }
        if (msg.method === 'fail') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, error: { code: -32042, message: 'nope' } }));
          return;
        }
        res.writeHead(200, {
          'content-type': 'application/json',
          'mcp-session-id': 'sess-1',
          'set-cookie': 'x=1',
          server: 'fixture',
        });
        res.end(JSON.stringify({ jsonrpc: '2.0', id: msg.id, result: { ok: true } }));
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const { port } = upstream.address() as AddressInfo;
    h = await startHarness({
      upstream: createHttpUpstream({ url: new URL(`http://127.0.0.1:${port}/mcp`), log: noLog }),
      maxBodyBytes: 4096,
    });
  });

  after(async () => {
    await h?.close();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  async function post(body: string, headers: Record<string, string> = {}, signal?: AbortSignal) {
    return fetch(`${h.url}/mcp`, {
      method: 'POST',
      signal,
      headers: {
        authorization: `Bearer ${await h.token()}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body,
    });
  }
  const call = (method: string, id = 7) =>
    JSON.stringify({ jsonrpc: '2.0', id, method, params: { name: 'x' } });

  test('the client credentials never reach the upstream; MCP headers do, both ways', async () => {
    // The session is the one the upstream minted on initialize: the proxy knows it, bound to this caller.
    assert.equal((await post(call('initialize'))).headers.get('mcp-session-id'), 'sess-1');
    seen.length = 0;
    const res = await post(call('tools/list'), {
      cookie: 'session=secret',
      'mcp-session-id': 'sess-1',
      'mcp-protocol-version': '2025-11-25',
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('mcp-session-id'), 'sess-1');
    assert.equal(res.headers.get('set-cookie'), null);
    assert.equal(res.headers.get('server'), null);
    const got = seen[0]!.headers;
    assert.equal(got.authorization, undefined);
    assert.equal(got.cookie, undefined);
    assert.equal(got['mcp-session-id'], 'sess-1');
    assert.equal(got['mcp-protocol-version'], '2025-11-25');
  });

  test('SSE streams through without buffering', async () => {
    const res = await post(call('stream'));
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    assert.equal(res.headers.get('x-accel-buffering'), 'no');
    const reader = res.body!.getReader();
    // The first event arrives while the upstream still holds the response open.
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /notifications\/progress/);
    assert.ok(release, 'the upstream has not finished');
    release!();
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read())
      rest += new TextDecoder().decode(r.value);
    assert.match(rest, /"id":7/);
  });

  test('a client that disconnects cancels the upstream request', async () => {
    const abort = new AbortController();
    const res = await post(call('stream', 8), {}, abort.signal);
    await res.body!.getReader().read();
    abort.abort();
    await upstreamClosed;
  });

  test('the JSON-RPC error code of the answer is audited', async () => {
    h.audit.length = 0;
    const res = await post(call('fail', 9));
    assert.equal(res.status, 200);
    await res.text();
    const a = h.audit.at(-1)!;
    assert.equal(a.outcome, 'error');
    assert.equal(a.errorCode, -32042);
    assert.equal(a.requestId, '9');
  });

  test('bad input gets specific errors and never reaches the upstream', async () => {
    seen.length = 0;
    const big = await post(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'x', params: { pad: 'x'.repeat(5000) } }),
    );
    assert.equal(big.status, 413);
    const malformed = await post('{"jsonrpc":');
    assert.equal(malformed.status, 400);
    assert.equal(((await malformed.json()) as { error: { code: number } }).error.code, -32700);
    assert.equal((await post(`[${call('a')}]`)).status, 400);
    assert.equal((await post('{"jsonrpc":"2.0","id":null,"method":"a"}')).status, 400);
    assert.equal((await post(call('a'), { 'content-type': 'text/plain' })).status, 415);
    assert.equal((await post(call('a'), { accept: 'text/html' })).status, 406);
    const deep = await post(
      `{"jsonrpc":"2.0","id":1,"method":"a","params":{"x":${'['.repeat(100)}${']'.repeat(100)}}}`,
    );
    assert.equal(deep.status, 400);
    const put = await fetch(`${h.url}/mcp`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${await h.token()}` },
    });
    assert.equal(put.status, 405);
    assert.equal(seen.length, 0);
  });

  test('authentication failures: 401 with the right challenge, nothing forwarded', async () => {
    seen.length = 0;
    const none = await fetch(`${h.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: call('a'),
    });
    assert.equal(none.status, 401);
    assert.equal(
      none.headers.get('www-authenticate'),
      'Bearer resource_metadata="https://demo.mcp.test/.well-known/oauth-protected-resource/mcp"',
    );
    const expired = await post(call('a'), { authorization: `Bearer ${await h.token({ expSeconds: -60 })}` });
    assert.equal(expired.status, 401);
    assert.match(
      expired.headers.get('www-authenticate') ?? '',
      /error="invalid_token", error_description="the token has expired"/,
    );
    const otherServer = await post(call('a'), {
      authorization: `Bearer ${await h.token({ aud: 'https://other.mcp.test/mcp' })}`,
    });
    assert.equal(otherServer.status, 401);
    const good = await h.token();
    const inQuery = await fetch(`${h.url}/mcp?access_token=${good}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${good}` },
      body: call('a'),
    });
    assert.equal(inQuery.status, 400, 'a token in the query string is refused, even beside a good header');
    assert.match(inQuery.headers.get('www-authenticate') ?? '', /^Bearer error="invalid_request"/);
    const basic = await post(call('a'), { authorization: 'Basic YWxpY2U6cHc=' });
    assert.equal(basic.status, 401);
    assert.equal(seen.length, 0);
  });

  test('grants: a group admits; anyone else gets 403 with the request id', async () => {
    const byGroup = await post(call('a'), {
      authorization: `Bearer ${await h.token({ email: 'bob@example.com', groups: ['eng'] })}`,
    });
    assert.equal(byGroup.status, 200);
    const denied = await post(call('a', 42), {
      authorization: `Bearer ${await h.token({ email: 'eve@example.com', groups: ['sales'] })}`,
    });
    assert.equal(denied.status, 403);
    const body = (await denied.json()) as { id: number; error: { code: number } };
    assert.equal(body.id, 42);
    assert.equal(body.error.code, -31003);
    assert.equal(h.audit.at(-1)!.outcome, 'denied');
    assert.equal(h.audit.at(-1)!.user, 'eve@example.com');
  });

  test('protected resource metadata at the path-inserted and root locations', async () => {
    for (const path of [
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource',
    ]) {
      const res = await fetch(`${h.url}${path}`);
      assert.equal(res.status, 200);
      const doc = (await res.json()) as {
        resource: string;
        authorization_servers: string[];
        scopes_supported: string[];
      };
      assert.equal(doc.resource, RESOURCE);
      assert.deepEqual(doc.authorization_servers, ['https://tessera.test']);
    }
    assert.equal((await fetch(`${h.url}/.well-known/oauth-protected-resource/other`)).status, 404);
    assert.equal((await fetch(`${h.url}/elsewhere`)).status, 404);
  });
});

describe('failures around the upstream and the configuration', () => {
  test('an unreachable upstream answers 502 with a JSON-RPC error', async () => {
    const port = await freePort();
    const h = await startHarness({
      upstream: createHttpUpstream({ url: new URL(`http://127.0.0.1:${port}/mcp`), log: noLog }),
    });
    try {
      const res = await fetch(`${h.url}/mcp`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await h.token()}`, 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/list' }),
      });
      assert.equal(res.status, 502);
      const body = (await res.json()) as { id: number; error: { code: number; message: string } };
      assert.equal(body.id, 3);
      assert.equal(body.error.code, -31004);
      assert.equal(h.audit.at(-1)!.outcome, 'error');
    } finally {
      await h.close();
    }
  });

  test('a body cut short or malformed mid-way: 400 or nothing, no error logged, nothing forwarded or audited', async () => {
    let forwarded = 0;
    const upstream = createServer((_req, res) => {
      forwarded++;
      res.end();
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const logged: string[] = [];
    const h = await startHarness({
      upstream: createHttpUpstream({
        url: new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`),
        log: noLog,
      }),
      log: (level, msg) => logged.push(`${level}: ${msg}`),
    });
    const exchange = async (raw: string, end: 'wait' | 'destroy') => {
      const socket = connect((h.server.address() as AddressInfo).port, '127.0.0.1');
      let text = '';
      socket.setEncoding('latin1').on('data', (d: string) => {
        text += d;
      });
      await once(socket, 'connect');
      socket.write(raw);
      if (end === 'destroy') {
        await new Promise((r) => setTimeout(r, 50));
        socket.destroy();
      } else await once(socket, 'close');
      return text;
    };
    try {
      const head = `POST /mcp HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer ${await h.token()}\r\nContent-Type: application/json\r\n`;
      const malformed = await exchange(
        `${head}Transfer-Encoding: chunked\r\n\r\n5\r\n{"jso\r\nzz\r\n`,
        'wait',
      );
      assert.match(malformed, /^HTTP\/1\.1 400 Bad Request\r\n/);
      await exchange(`${head}Content-Length: 100\r\n\r\n{"jsonrpc":`, 'destroy');
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(
        logged.filter((l) => l.startsWith('error')),
        [],
      );
      assert.equal(logged.filter((l) => l.includes('abandoned before its body ended')).length, 2);
      assert.equal(forwarded, 0);
      assert.equal(h.audit.length, 0);
    } finally {
      await h.close();
      await new Promise<void>((r) => upstream.close(() => r()));
    }
  });

  test('without configuration the proxy is not ready and denies everything', async () => {
    const h = await startHarness({
      upstream: createHttpUpstream({ url: new URL('http://127.0.0.1:9/mcp'), log: noLog }),
      configured: false,
    });
    try {
      assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
      assert.equal((await fetch(`${h.url}/readyz`)).status, 503);
      const res = await fetch(`${h.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      assert.equal(res.status, 503);
      assert.equal(((await res.json()) as { error: { code: number } }).error.code, -31005);
      assert.equal((await fetch(`${h.url}/.well-known/oauth-protected-resource`)).status, 503);
    } finally {
      await h.close();
    }
  });
});
