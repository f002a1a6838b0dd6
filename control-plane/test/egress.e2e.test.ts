/**
 * Egress mode end to end, with nothing written for the test between the parts: a real proxy
 * process (`proxy/src/main.ts`, `TESSERA_PROXY_MODE=egress`), started by local mode's proxy
 * supervisor for a registered https server, fetches upstream credentials from a real control-plane
 * replica (embedded PostgreSQL, real mesh listener) and fronts an https MCP server whose certificate
 * comes from a CA made for the test. The MCP SDK client calls through it.
 *
 * Proven: the upstream sees the credential the admin set for the user (or the server-wide one), never
 * the client's token; a changed credential is used once the cached one expires; a user who must
 * connect an account gets MCP's URL elicitation error with the control plane's connect link; with
 * the control plane gone and the cache expired, the proxy fails closed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type HttpsMcpServer, startHttpsMcpServer } from '../../proxy/test/helpers/https-mcp-server.ts';
import { createTestPki, type TestPki } from '../../proxy/test/helpers/test-pki.ts';
import { createProxySupervisor, type ProxySupervisor } from '../src/local/proxy-supervisor.ts';
import { adminClient } from './helpers/admin-client.ts';
import { freePort } from './helpers/free-port.ts';
import { MESH_SECRET, type Replica, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

const ALICE = 'alice@example.com';
const BOB = 'bob@example.com';
const PUBLIC_URL = 'http://tessera.test:8080';

let db: TestDb;
let replica: Replica;
let replicaStopped = false;
let pki: TestPki;
let remote: HttpsMcpServer;
let supervisor: ProxySupervisor | undefined;
let dir: string;
let mcpUrl: string;
const tokens: Record<string, string> = {};
const admin = adminClient(() => replica.cp);

before(async () => {
  pki = createTestPki({ dns: [], ip: ['127.0.0.1'] });
  remote = await startHttpsMcpServer(pki);
  db = await startTestDb();
  replica = await startReplica(db, { TESSERA_PUBLIC_URL: PUBLIC_URL });
  dir = await mkdtemp(join(tmpdir(), 'tessera-egress-'));
  const proxyPort = await freePort();
  mcpUrl = `http://127.0.0.1:${proxyPort}/mcp`;
  const upstreamUrl = `https://127.0.0.1:${remote.port}/mcp`;

  const reg = await admin('POST', '/api/v1/servers', {
    name: 'remote',
    kind: 'http',
    url: upstreamUrl,
    resourceUri: mcpUrl,
    localPort: proxyPort,
    grants: { users: [ALICE, BOB] },
  });
  assert.equal(reg.statusCode, 201, reg.body);
  for (const user of [ALICE, BOB]) {
    const minted = await admin('POST', '/api/v1/tokens', { user, server: 'remote' });
    assert.equal(minted.statusCode, 200, minted.body);
    tokens[user] = minted.json().access_token;
  }
  await setCredential({ user: ALICE, headers: { Authorization: 'Bearer alice-upstream-1' } });
  await setCredential({ headers: { Authorization: 'Bearer shared-upstream', 'X-Api-Version': '2' } });
  // The operator's egress settings, in the control plane's environment as `tessera start` would have
  // them: local egress proxies take them from there.
  process.env.TESSERA_PROXY_EGRESS_CA_FILE = pki.caFile;
  process.env.TESSERA_PROXY_EGRESS_ALLOW = '127.0.0.1';
  // Static credentials carry no expiry: the proxy keeps them this long (the smallest allowed).
  process.env.TESSERA_PROXY_CREDENTIAL_TTL_S = '1';
  // Local mode's supervisor, as `tessera start` runs it: an https server gets an egress proxy.
  supervisor = createProxySupervisor({
    meshUrl: replica.meshUrl,
    meshToken: MESH_SECRET,
    // The last test stops the control plane: the proxy's warnings about it are expected.
    logLevel: 'error',
    stateDir: dir,
    log: () => {},
  });
  supervisor.ensure(await replica.cp.registry.list());
  await waitFor('the proxy to be ready', async () => {
    const res = await fetch(`http://127.0.0.1:${proxyPort}/readyz`).catch(() => undefined);
    return res?.status === 200;
  });
});

after(async () => {
  await supervisor?.close();
  if (!replicaStopped) await replica?.close();
  await db?.stop();
  await remote?.close();
  pki?.remove();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function setCredential(body: { user?: string; headers: Record<string, string> }): Promise<void> {
  const res = await admin('PUT', '/api/v1/servers/remote/credentials', body);
  assert.equal(res.statusCode, 200, res.body);
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; the proxy logs to stderr`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

type Outcome = { ok: true; text: string } | { ok: false; error: Error & { code?: number; data?: unknown } };

/** Connects as `user` with the SDK client, calls `echo`, and reports the answer or the error. */
async function callAs(user: string): Promise<Outcome> {
  const client = new Client({ name: 'egress-e2e', version: '1' });
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: { headers: { authorization: `Bearer ${tokens[user]}` } },
  });
  try {
    await client.connect(transport);
    const r = await client.callTool({ name: 'echo', arguments: { message: `from ${user}` } });
    return { ok: true, text: (r.content as Array<{ text: string }>)[0]!.text };
  } catch (err) {
    return { ok: false, error: err as Error };
  } finally {
    await client.close();
  }
}

/** Calls as `user` until `done` accepts the outcome (a change reaches the proxy when its cache expires). */
async function callUntil(user: string, what: string, done: (r: Outcome) => boolean): Promise<Outcome> {
  let last: Outcome | undefined;
  await waitFor(what, async () => {
    last = await callAs(user);
    return done(last);
  });
  return last!;
}

/** The `authorization` headers the upstream received since `from`; checks none carries a client token. */
function upstreamAuthorizations(from: number): Array<string | undefined> {
  const seen = remote.seen.slice(from);
  for (const { headers } of seen) {
    const all = JSON.stringify(headers);
    for (const t of Object.values(tokens))
      assert.equal(all.includes(t), false, 'a client token went upstream');
  }
  return seen.map((s) => s.headers.authorization);
}

test('the call works and the upstream sees the user’s credential, never the client’s token', async () => {
  const from = remote.seen.length;
  const r = await callAs(ALICE);
  assert.deepEqual(r, { ok: true, text: `remote: from ${ALICE}` });
  const auths = upstreamAuthorizations(from);
  assert.ok(auths.length >= 2, 'initialize and tools/call went upstream');
  assert.deepEqual(new Set(auths), new Set(['Bearer alice-upstream-1']));
  // The per-user credential replaces the server-wide one as a whole.
  assert.ok(remote.seen.slice(from).every((s) => s.headers['x-api-version'] === undefined));
});

test('a user without a credential of their own gets the server-wide one', async () => {
  const from = remote.seen.length;
  assert.deepEqual(await callAs(BOB), { ok: true, text: `remote: from ${BOB}` });
  assert.deepEqual(new Set(upstreamAuthorizations(from)), new Set(['Bearer shared-upstream']));
  assert.ok(remote.seen.slice(from).every((s) => s.headers['x-api-version'] === '2'));
});

test('a credential the admin changes is used once the cached one expires', async () => {
  await setCredential({ user: ALICE, headers: { Authorization: 'Bearer alice-upstream-2' } });
  await waitFor('the new credential upstream', async () => {
    const from = remote.seen.length;
    assert.equal((await callAs(ALICE)).ok, true);
    return upstreamAuthorizations(from).includes('Bearer alice-upstream-2');
  });
  // From then on only the new one: the old one is not served again.
  const next = remote.seen.length;
  assert.equal((await callAs(ALICE)).ok, true);
  assert.deepEqual(new Set(upstreamAuthorizations(next)), new Set(['Bearer alice-upstream-2']));
});

test('a user who must connect an account first gets the URL elicitation error with the connect link', async () => {
  // Bob has no credential of his own; without the server-wide one, the server's OAuth client decides.
  assert.equal((await admin('DELETE', '/api/v1/servers/remote/credentials')).statusCode, 204);
  const oauth = await admin('PUT', '/api/v1/servers/remote/oauth', { scopes: ['mcp:tools'] });
  assert.equal(oauth.statusCode, 200, oauth.body);
  const r = await callUntil(BOB, 'the connect link', (o) => !o.ok);
  assert.ok(!r.ok);
  const { error } = r;
  assert.equal(error.code, -32042, error.message);
  const data = error.data as { elicitations: Array<{ mode: string; url: string }> };
  assert.equal(data.elicitations.length, 1);
  assert.equal(data.elicitations[0]!.mode, 'url');
  assert.ok(
    data.elicitations[0]!.url.startsWith(`${PUBLIC_URL}/api/v1/connect/remote?t=`),
    data.elicitations[0]!.url,
  );
  // Nothing of Bob's went upstream, and Alice's own credential still wins over OAuth.
  const from = remote.seen.length;
  assert.equal((await callAs(BOB)).ok, false);
  assert.equal(remote.seen.length, from);
  assert.equal((await callAs(ALICE)).ok, true);
  assert.deepEqual(new Set(upstreamAuthorizations(from)), new Set(['Bearer alice-upstream-2']));
});

test('with the control plane stopped and the cache expired, the proxy fails closed', async () => {
  replicaStopped = true;
  await replica.close();
  const r = await callUntil(ALICE, 'the credential to be unavailable', (o) => !o.ok);
  assert.ok(!r.ok);
  const { error } = r;
  // A 503 answer reaches the SDK as a transport error with the status and the JSON-RPC body.
  assert.equal(error.code, 503, error.message);
  assert.match(error.message, /"code":-31009/);
  assert.match(error.message, /the upstream credential is unavailable/);
  const from = remote.seen.length;
  assert.equal((await callAs(ALICE)).ok, false);
  assert.equal(remote.seen.length, from, 'nothing reaches the upstream without a credential');
});
