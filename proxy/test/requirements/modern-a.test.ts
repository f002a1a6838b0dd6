/**
 * Checklist tests that no other file had, for the "Transport: modern (2026-07-28)" part of
 * `../shared/reference/mcp-gateway-requirements.md` (items 15–30): header–body validation of modern
 * requests (protocol version, `Mcp-Name`, Base64 values, `Mcp-Param-*` presence and characters,
 * unrecognized headers), policy judging the body rather than mirrored headers, and an upstream's
 * MissingRequiredClientCapability error reaching the client intact. Real sockets, a real proxy
 * listener, and a controllable `node:http` upstream that records what it received.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHttpUpstream } from '../../src/upstream/http-upstream.ts';
import { type Harness, startHarness } from '../helpers/harness.ts';

const V = '2026-07-28';
const meta = {
  'io.modelcontextprotocol/protocolVersion': V,
  'io.modelcontextprotocol/clientCapabilities': {},
};
const HANG_GUARD = { timeout: 30_000 };
const b64 = (s: string) => `=?base64?${Buffer.from(s, 'utf8').toString('base64')}?=`;

/**
 * The upstream's tools: `sql` (and `admin_sql`) mirror `region` and `ctx.count` into headers; the others
 * mirror nothing; `sample` needs the client's sampling capability.
 */
const annotated = {
  type: 'object',
  properties: {
    region: { type: ['string', 'null'], 'x-mcp-header': 'Region' },
    ctx: { type: 'object', properties: { count: { type: 'integer', 'x-mcp-header': 'Count' } } },
    query: { type: 'string' },
  },
};
const TOOLS = [
  { name: 'sql', inputSchema: annotated },
  { name: 'admin_sql', inputSchema: annotated },
  { name: 'héllo wörld', inputSchema: { type: 'object', properties: {} } },
  { name: 'echo', inputSchema: { type: 'object', properties: { text: { type: 'string' } } } },
  { name: 'sample', inputSchema: { type: 'object', properties: {} } },
];

interface Seen {
  headers: IncomingMessage['headers'];
  body: { id?: unknown; method?: string; params?: Record<string, unknown> };
}

interface Answer {
  status: number;
  text: string;
  body: { id?: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };
}

describe('modern (2026-07-28) header rules through the proxy', () => {
  let upstream: Server;
  let h: Harness;
  const seen: Seen[] = [];

  before(async () => {
    upstream = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as Seen['body'];
        seen.push({ headers: req.headers, body });
        const json = (status: number, message: Record<string, unknown>) =>
          res
            .writeHead(status, { 'content-type': 'application/json' })
            .end(JSON.stringify({ jsonrpc: '2.0', id: body.id, ...message }));
        if (body.method === 'tools/list') return json(200, { result: { tools: TOOLS } });
        // A modern server that needs sampling for this tool: 2026-07-28 MissingRequiredClientCapabilityError.
        const capabilities = (body.params?._meta as Record<string, unknown> | undefined)?.[
          'io.modelcontextprotocol/clientCapabilities'
        ] as Record<string, unknown> | undefined;
        if (body.method === 'tools/call' && body.params?.name === 'sample' && !capabilities?.sampling) {
          return json(400, {
            error: {
              code: -32021,
              message: 'Missing required client capability: sampling',
              data: { requiredCapabilities: { sampling: {} } },
            },
          });
        }
        json(200, { result: { resultType: 'complete', content: [] } });
      });
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
    const { port } = upstream.address() as AddressInfo;
    h = await startHarness({
      upstream: createHttpUpstream({ url: new URL(`http://127.0.0.1:${port}/mcp`), log: () => {} }),
      policy: { rules: [{ id: 'no-admin', effect: 'DENY', targets: ['admin_*'] }] },
    });
    // The proxy learns the x-mcp-header annotations from a tools/list answer it forwards.
    const list = await modern('tools/list', {});
    assert.equal(list.status, 200, list.text);
  });

  after(async () => {
    await h?.close();
    upstream.closeAllConnections();
    await new Promise<void>((r) => upstream.close(() => r()));
  });

  /** POSTs one JSON-RPC request with exactly `headers` besides the credentials and media types. */
  async function send(
    method: string,
    params: Record<string, unknown>,
    headers: Record<string, string>,
    id: number | string = 7,
  ): Promise<Answer> {
    const res = await fetch(`${h.url}/mcp`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await h.token()}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
    });
    const text = await res.text();
    return { status: res.status, text, body: text.startsWith('{') ? JSON.parse(text) : {} };
  }

  /** A modern request: the `_meta` envelope, `MCP-Protocol-Version` and `Mcp-Method`, plus `headers`. */
  function modern(
    method: string,
    params: Record<string, unknown>,
    headers: Record<string, string> = {},
    id: number | string = 7,
  ): Promise<Answer> {
    const withMeta = { ...params, _meta: { ...meta, ...(params._meta as object | undefined) } };
    return send(method, withMeta, { 'mcp-protocol-version': V, 'mcp-method': method, ...headers }, id);
  }

  /** Asserts a 400 with -32020 and the request's id, and that the upstream received nothing. */
  async function refused(answer: Promise<Answer>, id: number | string = 7): Promise<string> {
    const before = seen.length;
    const res = await answer;
    assert.equal(res.status, 400, res.text);
    assert.equal(res.body.error?.code, -32020, res.text);
    assert.equal(res.body.id, id);
    assert.equal(seen.length, before, 'a refused request never reaches the upstream');
    return res.body.error!.message;
  }

  /** Asserts a 200 and returns what the upstream received for it. */
  async function forwarded(answer: Promise<Answer>): Promise<Seen> {
    const before = seen.length;
    const res = await answer;
    assert.equal(res.status, 200, res.text);
    assert.equal(seen.length, before + 1, 'the request reached the upstream once');
    return seen.at(-1)!;
  }

  test(
    'a modern request whose MCP-Protocol-Version differs from its _meta protocolVersion gets 400 and -32020',
    HANG_GUARD,
    async () => {
      const claim = (version: string) => ({ _meta: { 'io.modelcontextprotocol/protocolVersion': version } });
      // The header names the modern revision, the body another one, and the other way round.
      const m1 = await refused(modern('tools/list', claim('2099-01-01'), {}, 11), 11);
      assert.match(
        m1,
        /MCP-Protocol-Version header value '2026-07-28' does not match body value '2099-01-01'/,
      );
      const m2 = await refused(modern('tools/list', {}, { 'mcp-protocol-version': '2025-11-25' }, 12), 12);
      assert.match(m2, /'2025-11-25' does not match body value '2026-07-28'/);
      const audited = h.audit.at(-1)!;
      assert.equal(audited.outcome, 'invalid');
      assert.equal(audited.errorCode, -32020);
      // The same request with agreeing values passes.
      await forwarded(modern('tools/list', {}));
    },
  );

  test(
    'tools/call, resources/read and prompts/get without Mcp-Name, or with one that differs from the body, get 400 and -32020',
    HANG_GUARD,
    async () => {
      const calls: [string, Record<string, unknown>, string][] = [
        ['tools/call', { name: 'sql', arguments: {} }, 'sql'],
        ['resources/read', { uri: 'file:///srv/a.txt' }, 'file:///srv/a.txt'],
        ['prompts/get', { name: 'greeting' }, 'greeting'],
      ];
      for (const [method, params, name] of calls) {
        assert.match(
          await refused(modern(method, params)),
          new RegExp(`the Mcp-Name header is required for ${method}`),
        );
        assert.match(
          await refused(modern(method, params, { 'mcp-name': `${name}-other` })),
          /Mcp-Name header value .* does not match body/,
        );
        const got = await forwarded(modern(method, params, { 'mcp-name': name }));
        assert.equal(got.headers['mcp-name'], name, method);
      }
    },
  );

  test(
    'Base64-encoded Mcp-Name and Mcp-Param values are decoded before comparing: a matching one passes unchanged, a different one gets 400 and -32020',
    HANG_GUARD,
    async () => {
      // A name that cannot be sent as a plain header value.
      const name = 'héllo wörld';
      const got = await forwarded(modern('tools/call', { name, arguments: {} }, { 'mcp-name': b64(name) }));
      assert.equal(got.headers['mcp-name'], b64(name), 'the encoded header is forwarded as sent');
      assert.equal(got.body.params?.name, name);
      // A plain ASCII name may be encoded too.
      await forwarded(modern('tools/call', { name: 'sql', arguments: {} }, { 'mcp-name': b64('sql') }));
      await refused(modern('tools/call', { name, arguments: {} }, { 'mcp-name': b64('hello world') }));

      // A mirrored argument with non-ASCII characters and surrounding spaces.
      const region = ' São Paulo ';
      const param = await forwarded(
        modern(
          'tools/call',
          { name: 'sql', arguments: { region } },
          { 'mcp-name': 'sql', 'mcp-param-region': b64(region) },
        ),
      );
      assert.equal(param.headers['mcp-param-region'], b64(region));
      assert.match(
        await refused(
          modern(
            'tools/call',
            { name: 'sql', arguments: { region } },
            { 'mcp-name': 'sql', 'mcp-param-region': b64('São Paulo') },
          ),
        ),
        /Mcp-Param-region header value does not match the body value/,
      );
    },
  );

  test(
    'an annotated argument that is null or absent needs no Mcp-Param header; a present one without its header gets 400 and -32020',
    HANG_GUARD,
    async () => {
      const call = (args: Record<string, unknown>, headers: Record<string, string> = {}) =>
        modern('tools/call', { name: 'sql', arguments: args }, { 'mcp-name': 'sql', ...headers });
      const nullArg = await forwarded(call({ region: null, query: 'x' }));
      assert.equal(nullArg.headers['mcp-param-region'], undefined);
      await forwarded(call({ query: 'x' }));
      await forwarded(call({ ctx: {} }));
      assert.match(await refused(call({ region: 'eu' })), /Mcp-Param-region is required/);
      assert.match(await refused(call({ ctx: { count: 3 } })), /Mcp-Param-count is required/);
    },
  );

  test(
    'a mirrored Mcp-Param header with CR, LF, a control character or unencoded non-ASCII gets 400 and never reaches the upstream',
    HANG_GUARD,
    async () => {
      const port = Number(new URL(h.url).port);
      const token = await h.token();
      /** One request on a raw socket, so that the header bytes are exactly the ones given. */
      const raw = (region: string): Promise<{ status: number; body: string }> => {
        const body = JSON.stringify({
          jsonrpc: '2.0',
          id: 5,
          method: 'tools/call',
          params: { name: 'sql', arguments: { region: 'eu' }, _meta: meta },
        });
        const head =
          `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${token}\r\n` +
          'Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n' +
          `MCP-Protocol-Version: ${V}\r\nMcp-Method: tools/call\r\nMcp-Name: sql\r\n` +
          `Mcp-Param-Region: ${region}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n`;
        return new Promise((resolve, reject) => {
          const socket = connect(port, '127.0.0.1');
          const chunks: Buffer[] = [];
          socket.on('data', (d: Buffer) => chunks.push(d));
          socket.on('error', reject);
          socket.on('close', () => {
            const text = Buffer.concat(chunks).toString('latin1');
            const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
            resolve({
              status: status ? Number(status[1]) : 0,
              body: text.slice(text.indexOf('\r\n\r\n') + 4),
            });
          });
          socket.write(Buffer.concat([Buffer.from(head, 'latin1'), Buffer.from(body)]));
        });
      };
      const before = seen.length;
      // The control: the same bytes with a clean value are served.
      assert.equal((await raw('eu')).status, 200);
      assert.equal(seen.length, before + 1);
      const bad: [string, string][] = [
        ['CR', 'e\ru'],
        ['LF', 'e\nu'],
        ['CRLF and a folded line', 'eu\r\n u'],
        ['NUL', 'e\x00u'],
        ['a control character', 'e\x01u'],
        ['DEL', 'eu\x7f'],
        ['unencoded Latin-1', 'caf\xe9'],
        ['unencoded UTF-8', 'caf\xc3\xa9'],
      ];
      for (const [what, value] of bad) {
        const res = await raw(value);
        assert.equal(res.status, 400, `${what}: ${res.body}`);
      }
      // The non-ASCII values pass the HTTP parser and are refused by the header validation.
      assert.match((await raw('caf\xe9')).body, /"code":-32020/);
      assert.equal(seen.length, before + 1, 'no bad value reached the upstream');
    },
  );

  test(
    'Mcp-Param headers no annotation names are forwarded to the upstream unchanged',
    HANG_GUARD,
    async () => {
      const trace = b64('trace ✓ 1');
      const got = await forwarded(
        modern(
          'tools/call',
          { name: 'sql', arguments: { region: 'eu' } },
          { 'mcp-name': 'sql', 'mcp-param-region': 'eu', 'mcp-param-zone': 'b', 'mcp-param-trace': trace },
        ),
      );
      assert.equal(got.headers['mcp-param-region'], 'eu');
      assert.equal(got.headers['mcp-param-zone'], 'b');
      assert.equal(got.headers['mcp-param-trace'], trace, 'forwarded as sent, not decoded');
      // A tool with no annotations at all.
      const plain = await forwarded(
        modern(
          'tools/call',
          { name: 'echo', arguments: { text: 'c' } },
          { 'mcp-name': 'echo', 'mcp-param-text': 'c' },
        ),
      );
      assert.equal(plain.headers['mcp-param-text'], 'c');
    },
  );

  test(
    'policy judges the body, never mirrored headers: legacy and versionless requests are decided on params.name',
    HANG_GUARD,
    async () => {
      const mirrored = (name: string) => ({ 'mcp-method': 'tools/call', 'mcp-name': name });
      const before = seen.length;
      // An allowed name in the header does not admit a denied call in the body.
      const versions: Record<string, string>[] = [{ 'mcp-protocol-version': '2025-11-25' }, {}];
      for (const version of versions) {
        const res = await send(
          'tools/call',
          { name: 'admin_sql', arguments: {} },
          { ...version, ...mirrored('sql') },
        );
        assert.equal(res.status, 403, res.text);
        assert.equal(res.body.error?.code, -31003);
        const audited = h.audit.at(-1)!;
        assert.equal(audited.target, 'admin_sql');
        assert.equal(audited.decision, 'deny');
        assert.equal(audited.ruleId, 'no-admin');
      }
      assert.equal(seen.length, before, 'a denied call never reaches the upstream');
      // A denied name in the header does not refuse an allowed call in the body.
      const allowed = await send(
        'tools/call',
        { name: 'sql', arguments: {} },
        { 'mcp-protocol-version': '2025-11-25', ...mirrored('admin_sql') },
      );
      assert.equal(allowed.status, 200, allowed.text);
      assert.equal(seen.at(-1)!.body.params?.name, 'sql');
      assert.equal(h.audit.at(-1)!.target, 'sql');
      assert.equal(h.audit.at(-1)!.decision, 'allow');
      // A modern request whose header disagrees is refused before the policy is asked at all.
      await refused(modern('tools/call', { name: 'admin_sql', arguments: {} }, { 'mcp-name': 'sql' }));
      assert.equal(h.audit.at(-1)!.decision, '', 'the policy never ran');
      await refused(modern('tools/call', { name: 'sql', arguments: {} }, { 'mcp-name': 'admin_sql' }));
      assert.equal(h.audit.at(-1)!.decision, '');
    },
  );

  test(
    'an upstream MissingRequiredClientCapability error reaches the client as 400 with -32021 and its requiredCapabilities',
    HANG_GUARD,
    async () => {
      const before = seen.length;
      const res = await modern('tools/call', { name: 'sample', arguments: {} }, { 'mcp-name': 'sample' }, 21);
      assert.equal(res.status, 400, res.text);
      assert.deepEqual(res.body, {
        jsonrpc: '2.0',
        id: 21,
        error: {
          code: -32021,
          message: 'Missing required client capability: sampling',
          data: { requiredCapabilities: { sampling: {} } },
        },
      });
      assert.equal(seen.length, before + 1);
      const audited = h.audit.at(-1)!;
      assert.equal(audited.errorCode, -32021);
      assert.equal(audited.outcome, 'error');
      // The client's declared capabilities reach the upstream untouched: declaring sampling is served.
      const declared = await modern(
        'tools/call',
        {
          name: 'sample',
          arguments: {},
          _meta: { 'io.modelcontextprotocol/clientCapabilities': { sampling: {} } },
        },
        { 'mcp-name': 'sample' },
        22,
      );
      assert.equal(declared.status, 200, declared.text);
    },
  );
});
