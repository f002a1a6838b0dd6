/**
 * The proxy in egress mode on real sockets: an https MCP server (the MCP SDK's, behind a certificate
 * from a CA made for the test) reached through the proxy with the SDK client; the user's credential
 * comes from a real Connect `CredentialService` peer. Covers TLS verification, the SSRF guard on the
 * first hop and on redirects, credential handling, and that the client's token never goes upstream.
 */
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createCredentialClient } from '../src/egress/credential-client.ts';
import { createEgressUpstream, type EgressUpstreamOptions } from '../src/egress/egress-upstream.ts';
import { parseAllowList } from '../src/egress/ssrf-guard.ts';
import { createMeshTransport } from '../src/mesh-api/mesh-transport.ts';
import { startSseLegacyServer } from './fixtures/sse-legacy-server.ts';
import { type CredentialPeer, startCredentialPeer } from './helpers/credential-peer.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { type HttpsMcpServer, startHttpsMcpServer } from './helpers/https-mcp-server.ts';
import { legacyInitialize } from './helpers/legacy-initialize.ts';
import { modernCall } from './helpers/modern-client.ts';
import { createTestPki, type TestPki } from './helpers/test-pki.ts';

const MESH_TOKEN = 'e'.repeat(40);
const noLog = () => {};
/** Test DNS: the names the certificate carries, and a name with one public and one private record. */
const zone: Record<string, LookupAddress[]> = {
  'mcp.test': [{ address: '127.0.0.1', family: 4 }],
  'other.test': [{ address: '127.0.0.1', family: 4 }],
  'rebind.test': [
    { address: '93.184.216.34', family: 4 },
    { address: '127.0.0.1', family: 4 },
  ],
};
const resolve: EgressUpstreamOptions['resolve'] = (host, _options, cb) => {
  const answer = zone[host];
  if (!answer) {
    cb(Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' }), []);
    return;
  }
  cb(null, answer);
};

let pki: TestPki;
let remote: HttpsMcpServer;
let peer: CredentialPeer;
const open: Harness[] = [];

before(async () => {
  pki = createTestPki({ dns: ['mcp.test', 'other.test', 'rebind.test'], ip: ['127.0.0.1', '127.0.0.2'] });
  remote = await startHttpsMcpServer(pki);
  peer = await startCredentialPeer(MESH_TOKEN, (r) => ({
    headers: [
      { name: 'authorization', value: `Bearer upstream-token-for-${r.user}` },
      { name: 'x-api-key', value: `key-for-${r.user}` },
    ],
  }));
});
after(async () => {
  for (const h of open) await h.close();
  await remote?.close();
  await peer?.close();
  pki?.remove();
});
beforeEach(() => {
  remote.seen.length = 0;
});

/** A proxy harness whose upstream is the egress upstream toward `path` on the fixture. */
async function proxyTo(
  target: string,
  overrides: Partial<Pick<EgressUpstreamOptions, 'ca' | 'allow' | 'transport'>> & {
    peer?: CredentialPeer;
    users?: string[];
  } = {},
): Promise<Harness> {
  const credentials = createCredentialClient({
    transport: createMeshTransport({ controlPlaneUrl: (overrides.peer ?? peer).url, meshToken: MESH_TOKEN }),
    server: 'demo',
    defaultTtlMs: 60_000,
    maxEntries: 100,
  });
  const h = await startHarness({
    users: overrides.users,
    upstream: createEgressUpstream({
      url: new URL(target),
      allow: overrides.allow ?? parseAllowList(['127.0.0.1']).allow,
      ca: 'ca' in overrides ? overrides.ca : pki.caCert,
      connectTimeoutMs: 10_000,
      maxConnections: 8,
      credentials,
      log: noLog,
      clientInfo: { name: 'tessera-proxy', version: 'test' },
      transport: overrides.transport,
      resolve,
    }),
  });
  open.push(h);
  return h;
}

const remoteUrl = (host: string, path = '/mcp') => `https://${host}:${remote.port}${path}`;

/** POSTs an initialize through the proxy and returns the HTTP status and the parsed body. */
async function initialize(
  h: Harness,
): Promise<{ status: number; body: { error?: { code: number; message: string; data?: unknown } } }> {
  const res = await fetch(`${h.url}/mcp`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${await h.token()}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify(legacyInitialize(1)),
  });
  return { status: res.status, body: (await res.json()) as never };
}

describe('through a verified TLS connection', () => {
  test('the SDK client lists and calls tools; the upstream sees the credential, never the client token', async () => {
    const h = await proxyTo(remoteUrl('127.0.0.1'));
    const clientToken = await h.token();
    const client = new Client({ name: 'egress-test', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), {
        requestInit: {
          headers: {
            authorization: `Bearer ${clientToken}`,
            cookie: 'session=client-secret',
            'x-custom': 'nope',
          },
        },
      }),
    );
    const { tools } = await client.listTools();
    assert.deepEqual(
      tools.map((t) => t.name),
      ['echo'],
    );
    const r = await client.callTool({ name: 'echo', arguments: { message: 'over https' } });
    assert.deepEqual(r.content, [{ type: 'text', text: 'remote: over https' }]);
    await client.close();

    assert.ok(remote.seen.length >= 3);
    for (const { headers } of remote.seen) {
      assert.equal(headers.authorization, 'Bearer upstream-token-for-alice@example.com');
      assert.equal(headers['x-api-key'], 'key-for-alice@example.com');
      assert.equal(headers.cookie, undefined);
      assert.equal(headers['x-custom'], undefined);
      assert.ok(
        !JSON.stringify(headers).includes(clientToken),
        'the client token never reaches the upstream',
      );
      assert.ok(!JSON.stringify(headers).includes('client-secret'));
    }
    assert.equal(h.audit.find((a) => a.method === 'tools/call')?.outcome, 'ok');
  });

  test('a host name is resolved, checked, and verified against the certificate', async () => {
    const h = await proxyTo(remoteUrl('mcp.test'));
    const { status } = await initialize(h);
    assert.equal(status, 200);
    assert.equal(remote.seen.length, 1);
    assert.equal(remote.seen[0]!.headers.host, `mcp.test:${remote.port}`);
  });

  test('without the CA configured, the certificate is refused and nothing reaches the server', async () => {
    const h = await proxyTo(remoteUrl('127.0.0.1'), { ca: undefined });
    const { status, body } = await initialize(h);
    assert.equal(status, 502);
    assert.equal(body.error?.code, -31004);
    assert.match(
      body.error?.message ?? '',
      /TLS verification of the MCP server failed \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/,
    );
    assert.equal(remote.seen.length, 0);
  });

  test('a certificate for another name is refused', async () => {
    zone['wrong.test'] = [{ address: '127.0.0.1', family: 4 }];
    const h = await proxyTo(remoteUrl('wrong.test'));
    const { status, body } = await initialize(h);
    assert.equal(status, 502);
    assert.match(
      body.error?.message ?? '',
      /TLS verification of the MCP server failed \(ERR_TLS_CERT_ALTNAME_INVALID\)/,
    );
    assert.equal(remote.seen.length, 0);
  });
});

describe('the SSRF guard', () => {
  test('refuses a loopback address that is not allow-listed', async () => {
    const h = await proxyTo(remoteUrl('127.0.0.1'), { allow: parseAllowList([]).allow });
    const { status, body } = await initialize(h);
    assert.equal(status, 502);
    assert.equal(body.error?.code, -31004);
    assert.match(body.error?.message ?? '', /^egress refused: 127\.0\.0\.1 is a loopback address/);
    assert.equal(remote.seen.length, 0);
    assert.equal(h.audit[0]?.reason, body.error?.message);
  });

  test('checks the address a name resolves to', async () => {
    const h = await proxyTo(remoteUrl('mcp.test'), { allow: parseAllowList([]).allow });
    const { body } = await initialize(h);
    assert.match(
      body.error?.message ?? '',
      /^egress refused: mcp\.test resolved to 127\.0\.0\.1, a loopback address/,
    );
    assert.equal(remote.seen.length, 0);
  });

  test('refuses a name with any private record, even beside a public one', async () => {
    const h = await proxyTo(remoteUrl('rebind.test'), { allow: parseAllowList([]).allow });
    const { body } = await initialize(h);
    assert.match(body.error?.message ?? '', /rebind\.test resolved to 127\.0\.0\.1, a loopback address/);
    assert.equal(remote.seen.length, 0);
  });

  test('checks every redirect target: private, metadata and plain http are refused', async () => {
    const cases: Array<[string, RegExp]> = [
      [`https://127.0.0.2:${remote.port}/mcp`, /egress refused: 127\.0\.0\.2 is a loopback address/],
      [
        'https://169.254.169.254/latest/meta-data/',
        /egress refused: 169\.254\.169\.254 is a metadata address/,
      ],
      ['https://[fd00:ec2::254]/', /egress refused: fd00:ec2::254 is a metadata address/],
      ['https://10.1.2.3/mcp', /egress refused: 10\.1\.2\.3 is a private address/],
      [`http://127.0.0.1:${remote.port}/mcp`, /egress refused: http:\/\/127\.0\.0\.1:\d+ is not https/],
    ];
    for (const [target, message] of cases) {
      remote.seen.length = 0;
      const to = await proxyTo(remoteUrl('127.0.0.1', `/to?url=${encodeURIComponent(target)}`));
      const { status, body } = await initialize(to);
      assert.equal(status, 502, target);
      assert.match(body.error?.message ?? '', message);
      assert.deepEqual(
        remote.seen.map((s) => s.path),
        [`/to?url=${encodeURIComponent(target)}`],
        'only the first hop reached a server',
      );
    }
  });

  test('follows a redirect to an allowed target; the credential goes only to the same origin', async () => {
    const same = await proxyTo(remoteUrl('127.0.0.1', `/to?url=${encodeURIComponent('/mcp')}`));
    assert.equal((await initialize(same)).status, 200);
    assert.deepEqual(
      remote.seen.map((s) => [s.path, s.headers.authorization]),
      [
        [`/to?url=${encodeURIComponent('/mcp')}`, 'Bearer upstream-token-for-alice@example.com'],
        ['/mcp', 'Bearer upstream-token-for-alice@example.com'],
      ],
    );

    remote.seen.length = 0;
    const cross = await proxyTo(
      remoteUrl('127.0.0.1', `/to?url=${encodeURIComponent(remoteUrl('other.test'))}`),
    );
    assert.equal((await initialize(cross)).status, 200);
    assert.equal(remote.seen.length, 2);
    assert.equal(remote.seen[0]!.headers.authorization, 'Bearer upstream-token-for-alice@example.com');
    assert.equal(remote.seen[1]!.headers.host, `other.test:${remote.port}`);
    assert.equal(remote.seen[1]!.headers.authorization, undefined, 'a cross-origin hop loses the credential');
    assert.equal(
      remote.seen[1]!.headers['x-api-key'],
      undefined,
      'every credential header, not only authorization',
    );
    assert.equal(remote.seen[0]!.headers['x-api-key'], 'key-for-alice@example.com');
  });

  test('gives up after three redirects', async () => {
    const h = await proxyTo(remoteUrl('127.0.0.1', '/hop/0'));
    const { status, body } = await initialize(h);
    assert.equal(status, 502);
    assert.match(body.error?.message ?? '', /redirected too many times/);
    assert.deepEqual(
      remote.seen.map((s) => s.path),
      ['/hop/0', '/hop/1', '/hop/2', '/hop/3'],
    );
  });
});

describe('upstream credentials', () => {
  test('a user who must connect an account gets MCP URLElicitationRequired with the URL', async () => {
    const connect = await startCredentialPeer(MESH_TOKEN, () => ({
      connectUrl: 'https://tessera.example.com/connect/demo',
    }));
    try {
      const h = await proxyTo(remoteUrl('127.0.0.1'), { peer: connect });
      const { status, body } = await initialize(h);
      assert.equal(status, 200);
      assert.equal(body.error?.code, -32042);
      assert.match(
        body.error?.message ?? '',
        /connect your account first: open https:\/\/tessera\.example\.com\/connect\/demo/,
      );
      const data = body.error?.data as {
        elicitations: Array<{ mode: string; url: string; elicitationId: string }>;
      };
      assert.equal(data.elicitations[0]?.mode, 'url');
      assert.equal(data.elicitations[0]?.url, 'https://tessera.example.com/connect/demo');
      assert.ok(data.elicitations[0]?.elicitationId);
      assert.equal(remote.seen.length, 0);
      assert.equal(connect.calls[0]?.request.user, 'alice@example.com');
    } finally {
      await connect.close();
    }
  });

  describe('on the 2026-07-28 wire', () => {
    const CONNECT = 'https://tessera.example.com/connect/demo';
    /** A modern tools/call of echo from a client that declares `capabilities`. */
    const modernEcho = async (
      h: Harness,
      params: Record<string, unknown>,
      capabilities: Record<string, unknown>,
    ) => {
      const { status, answer } = await modernCall(`${h.url}/mcp`, await h.token(), 9, 'tools/call', {
        name: 'echo',
        arguments: { message: 'hi' },
        ...params,
        _meta: { 'io.modelcontextprotocol/clientCapabilities': capabilities },
      });
      return { status, body: answer as typeof answer & { error?: { data?: unknown } } };
    };

    test('a user who must connect gets an InputRequiredResult with a URL elicitation, not -32042', async () => {
      const connect = await startCredentialPeer(MESH_TOKEN, () => ({ connectUrl: CONNECT }));
      try {
        const h = await proxyTo(remoteUrl('127.0.0.1'), { peer: connect });
        const { status, body } = await modernEcho(h, {}, { elicitation: { url: {} } });
        assert.equal(status, 200);
        assert.equal(body.id, 9);
        assert.equal(body.error, undefined);
        assert.equal(body.result?.resultType, 'input_required');
        assert.equal(body.result?.requestState, 'tessera-connect');
        const requests = body.result?.inputRequests as
          | Record<string, { method: string; params: Record<string, string> }>
          | undefined;
        const ask = requests?.['tessera-connect'];
        assert.ok(ask, 'the proxy’s input request');
        assert.equal(ask.method, 'elicitation/create');
        assert.equal(ask.params.mode, 'url');
        assert.equal(ask.params.url, CONNECT);
        assert.ok(ask.params.elicitationId);
        assert.equal(remote.seen.length, 0);
      } finally {
        await connect.close();
      }
    });

    test('a client without URL elicitation gets 400 and -32021 naming the capability', async () => {
      const connect = await startCredentialPeer(MESH_TOKEN, () => ({ connectUrl: CONNECT }));
      try {
        const h = await proxyTo(remoteUrl('127.0.0.1'), { peer: connect });
        const { status, body } = await modernEcho(h, {}, { elicitation: { form: {} } });
        assert.equal(status, 400);
        assert.equal(body.error?.code, -32021);
        assert.deepEqual(body.error?.data, { requiredCapabilities: { elicitation: { url: {} } } });
        assert.equal(remote.seen.length, 0);
      } finally {
        await connect.close();
      }
    });

    test('the retry once connected reaches the upstream without the proxy’s round trip', async () => {
      const connected = await startCredentialPeer(MESH_TOKEN, () => ({
        headers: [{ name: 'authorization', value: 'Bearer upstream-token' }],
      }));
      try {
        const h = await proxyTo(remoteUrl('127.0.0.1'), { peer: connected });
        await modernEcho(
          h,
          {
            requestState: 'tessera-connect',
            inputResponses: { 'tessera-connect': { action: 'accept' }, other: { action: 'decline' } },
          },
          { elicitation: { url: {} } },
        );
        const got = remote.seen.findLast(
          (x) => (x.body as { method?: string } | undefined)?.method === 'tools/call',
        )!;
        assert.equal(got.headers.authorization, 'Bearer upstream-token');
        const params = (got.body as { params: Record<string, unknown> }).params;
        assert.equal(params.requestState, undefined);
        assert.deepEqual(
          params.inputResponses,
          { other: { action: 'decline' } },
          'only the proxy’s response is gone',
        );
        assert.deepEqual(params.arguments, { message: 'hi' });
      } finally {
        await connected.close();
      }
    });
  });

  test('a 2026-07-28 client reaches a 2025-11-25-only server through sessions under each user’s own credential', async () => {
    const h = await proxyTo(remoteUrl('127.0.0.1'), {
      users: ['alice@example.com', 'bob@example.com'],
    });
    const url = `${h.url}/mcp`;
    const alice = await modernCall(url, await h.token(), 'a', 'tools/call', {
      name: 'echo',
      arguments: { message: 'from alice' },
    });
    const bobToken = await h.token({ sub: 'user-2', email: 'bob@example.com' });
    const bob = await modernCall(url, bobToken, 'b', 'tools/call', {
      name: 'echo',
      arguments: { message: 'from bob' },
    });
    for (const [answer, text] of [
      [alice, 'remote: from alice'],
      [bob, 'remote: from bob'],
    ] as const) {
      assert.equal(answer.status, 200);
      assert.deepEqual(answer.answer.result?.content, [{ type: 'text', text }]);
    }
    const rpc = (x: (typeof remote.seen)[number]) => (x.body as { method?: string } | undefined)?.method;
    assert.ok(
      remote.seen.some((x) => rpc(x) === 'server/discover'),
      'the server was asked which revision it speaks',
    );
    const initialized = remote.seen.filter((x) => rpc(x) === 'initialize');
    assert.deepEqual(
      initialized.map((x) => x.headers.authorization),
      ['Bearer upstream-token-for-alice@example.com', 'Bearer upstream-token-for-bob@example.com'],
      'one session per user, each opened with that user’s credential',
    );
    for (const user of ['alice', 'bob']) {
      const call = remote.seen.find(
        (x) => rpc(x) === 'tools/call' && JSON.stringify(x.body).includes(`from ${user}`),
      );
      assert.equal(call?.headers.authorization, `Bearer upstream-token-for-${user}@example.com`);
    }
    for (const { headers } of remote.seen) {
      assert.ok(!JSON.stringify(headers).includes(bobToken), 'no client token ever reaches the upstream');
      assert.match(String(headers.authorization), /^Bearer upstream-token-for-/);
    }
  });

  test('an HTTP+SSE-only remote server: each user’s stream and POSTs carry that user’s credential', async () => {
    const sse = await startSseLegacyServer({ tls: pki });
    try {
      const h = await proxyTo(sse.url.href, {
        transport: 'sse',
        users: ['alice@example.com', 'bob@example.com'],
      });
      const client = new Client({ name: 'egress-sse-test', version: '1' });
      const clientToken = await h.token();
      await client.connect(
        new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), {
          requestInit: { headers: { authorization: `Bearer ${clientToken}` } },
        }),
      );
      const echo = await client.callTool({ name: 'echo', arguments: { message: 'legacy session' } });
      assert.deepEqual(echo.content, [{ type: 'text', text: 'echo: legacy session' }]);
      await client.close();
      const bobToken = await h.token({ sub: 'user-2', email: 'bob@example.com' });
      const bob = await modernCall(`${h.url}/mcp`, bobToken, 'b', 'tools/call', {
        name: 'echo',
        arguments: { message: 'stateless' },
      });
      assert.equal(bob.status, 200);
      assert.deepEqual(bob.answer.result?.content, [{ type: 'text', text: 'echo: stateless' }]);

      const by = (user: string) =>
        sse.requests.filter((r) => r.authorization === `Bearer upstream-token-for-${user}@example.com`);
      assert.ok(by('alice').some((r) => r.method === 'GET' && r.path === '/sse'));
      assert.ok(by('alice').some((r) => r.method === 'POST' && r.path === '/messages'));
      assert.ok(by('bob').some((r) => r.method === 'GET' && r.path === '/sse'));
      assert.ok(by('bob').some((r) => r.method === 'POST' && r.path === '/messages'));
      assert.equal(
        by('alice').length + by('bob').length,
        sse.requests.length,
        'no request without a user’s credential, none with a client token',
      );
    } finally {
      await sse.close();
    }
  });

  test('the control plane failing means no request upstream: fail closed with -31009', async () => {
    const failing = await startCredentialPeer(MESH_TOKEN, () => {
      throw new ConnectError('token endpoint down', Code.Unavailable);
    });
    try {
      const h = await proxyTo(remoteUrl('127.0.0.1'), { peer: failing });
      const { status, body } = await initialize(h);
      assert.equal(status, 503);
      assert.equal(body.error?.code, -31009);
      assert.match(body.error?.message ?? '', /upstream credential is unavailable.*token endpoint down/);
      assert.equal(remote.seen.length, 0);
    } finally {
      await failing.close();
    }
  });
});
