/**
 * The gateway as an OAuth client of an MCP server that has its own authorization server: a real
 * oidc-provider and an MCP SDK server that only accepts its tokens. The control plane (real
 * embedded PostgreSQL, real mesh listener) answers GetCredential with a connect link, a browser
 * (undici, following redirects by hand, keeping cookies) goes through login and consent, and the
 * token the control plane then serves works with the MCP SDK client; expiry leads to a refresh
 * with rotation, a wrong `iss` and a replayed state are refused, and the tokens rest sealed.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { request } from 'undici';
import { oauthContexts } from '../src/credentials/oauth/oauth-store.ts';
import { clientRequest } from '../src/credentials/oauth/token-endpoint.ts';
import { proxyMeshToken } from '../src/mesh/mesh-auth.ts';
import { adminClient } from './helpers/admin-client.ts';
import { type Browser, createBrowser, type Page } from './helpers/browser.ts';
import { freePort } from './helpers/free-port.ts';
import { meshClients } from './helpers/mesh-client.ts';
import { type OAuthMcpServer, startOAuthMcpServer } from './helpers/oauth-mcp-server.ts';
import { MESH_SECRET, type Replica, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

const USER = 'alice@example.com';
const PASSWORD = 'correct horse battery staple';
let alice: Browser;
let bob: Browser;
let db: TestDb;
let replica: Replica;
let upstream: OAuthMcpServer;
let publicUrl: string;
const admin = adminClient(() => replica.cp);
const getCredential = (user = USER) =>
  meshClients(replica.meshUrl, proxyMeshToken(MESH_SECRET, 'guarded')).credentials.getCredential({
    server: 'guarded',
    user,
  });

/** Follows redirects from `start` in `browser`; stops before a URL `stopAt` accepts (status 0). */
async function browse(start: string, stopAt?: (url: URL) => boolean, browser: Browser = alice) {
  const first = new URL(start);
  if (stopAt?.(first)) return { url: first, status: 0, body: '' };
  const { page, stoppedAt } = await browser.follow(await browser.request(first), (u) => stopAt?.(u) ?? false);
  if (stoppedAt) return { url: stoppedAt, status: 0, body: '' };
  return { url: page.url, status: page.status, body: page.body };
}

/** Signs in on `browser`'s current login page (reached through a redirect) and follows on. */
async function signIn(browser: Browser, loginPage: Page, email: string) {
  assert.equal(loginPage.status, 200, loginPage.body);
  assert.match(loginPage.body, /Sign in/);
  const next = await browser.submit(loginPage, /login$/, { email, password: PASSWORD });
  return browser.follow(next, () => false);
}

/** A browser signed in at Tessera as `email`, through the sign-in entry. */
async function signedInBrowser(email: string): Promise<Browser> {
  const browser = createBrowser();
  const { page } = await browser.follow(
    await browser.request(`${publicUrl}/login?return_to=/healthz`),
    () => false,
  );
  const done = await signIn(browser, page, email);
  assert.equal(done.page.url.pathname, '/healthz', done.page.body);
  return browser;
}

/** The sealed token record of USER, opened / rewritten with the control plane's own SecretBox. */
async function readTokens() {
  const [row] = await replica.ds.query('SELECT sealed_tokens FROM upstream_oauth_tokens');
  return JSON.parse(
    await replica.cp.secretBox.openText(row.sealed_tokens, oauthContexts.tokens('guarded', USER)),
  );
}
async function writeTokens(record: unknown) {
  const sealed = await replica.cp.secretBox.seal(
    JSON.stringify(record),
    oauthContexts.tokens('guarded', USER),
  );
  await replica.ds.query('UPDATE upstream_oauth_tokens SET sealed_tokens = $1', [sealed]);
}

const isCallback = (u: URL) => u.href.startsWith(`${publicUrl}/api/v1/connect/callback`);

async function listTools(accessHeader: string) {
  const client = new Client({ name: 'test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(upstream.mcpUrl), {
    requestInit: { headers: { authorization: accessHeader } },
  });
  await client.connect(transport);
  try {
    const result = await client.callTool({ name: 'whoami', arguments: {} });
    return (result.content as Array<{ text: string }>)[0]!.text;
  } finally {
    await client.close();
  }
}

before(async () => {
  upstream = await startOAuthMcpServer();
  db = await startTestDb();
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  replica = await startReplica(db, {
    TESSERA_PUBLIC_URL: publicUrl,
    TESSERA_OUTBOUND_ALLOW: '127.0.0.1/32',
  });
  await replica.cp.publicApp.listen({ host: '127.0.0.1', port });
  const res = await admin('POST', '/api/v1/servers', {
    name: 'guarded',
    kind: 'http',
    url: upstream.mcpUrl,
    resourceUri: 'https://guarded.test/mcp',
  });
  assert.equal(res.statusCode, 201, res.body);
  await replica.cp.identity.users.createLocal(USER, PASSWORD);
  await replica.cp.identity.users.createLocal('bob@example.com', PASSWORD);
  alice = await signedInBrowser(USER);
  bob = await signedInBrowser('bob@example.com');
});

after(async () => {
  await replica?.close();
  await db?.stop();
  await upstream?.close();
});

describe('gateway as OAuth client of an MCP server', () => {
  test('bad OAuth settings are refused and store nothing', async () => {
    for (const [body, message] of [
      [{ url: 'ftp://x/mcp' }, /"url"/],
      [{ scopes: ['a b'] }, /"scopes"/],
      [{ clientSecret: 's' }, /needs a "clientId"/],
      [{ other: 1 }, /unknown field "other"/],
    ] as const) {
      const res = await admin('PUT', '/api/v1/servers/guarded/oauth', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.match(res.json().message, message);
    }
    assert.equal((await admin('GET', '/api/v1/servers/guarded/oauth')).statusCode, 404);
    assert.equal((await admin('PUT', '/api/v1/servers/nope/oauth', {})).statusCode, 404);
  });

  test('no token yet: GetCredential answers a connect link, no header', async () => {
    const res = await admin('PUT', '/api/v1/servers/guarded/oauth', { scopes: ['mcp:tools'] });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().url, upstream.mcpUrl);
    const c = await getCredential();
    assert.deepEqual(c.headers, []);
    assert.ok(c.connectUrl.startsWith(`${publicUrl}/api/v1/connect/guarded?t=`), c.connectUrl);
  });

  test('a forged or foreign connect link is refused', async () => {
    const { connectUrl } = await getCredential();
    // A character in the middle of the signature: the last one may carry only padding bits, which
    // base64url decoders ignore, so changing it would not always change the signature.
    const at = connectUrl.length - 20;
    const tampered = `${connectUrl.slice(0, at)}${connectUrl[at] === 'A' ? 'B' : 'A'}${connectUrl.slice(at + 1)}`;
    assert.equal((await browse(tampered)).status, 401);
    const other = connectUrl.replace('/connect/guarded?', '/connect/other?');
    assert.equal((await browse(other)).status, 401);
  });

  test('a callback with the wrong iss is refused, and burns its state', async () => {
    const { connectUrl } = await getCredential();
    const stop = await browse(connectUrl, isCallback);
    assert.equal(stop.url.searchParams.get('iss'), upstream.issuer);
    const forged = new URL(stop.url);
    forged.searchParams.set('iss', 'http://127.0.0.1:1/evil');
    const refused = await browse(forged.href);
    assert.equal(refused.status, 400);
    assert.match(refused.body, /iss/);
    assert.equal((await browse(stop.url.href)).status, 400);
    assert.deepEqual((await getCredential()).headers, []);
  });

  test('the sign-in entry only returns to paths of the control plane', async () => {
    for (const bad of ['https://evil.example/x', '//evil.example/x', '/\\evil.example', 'x']) {
      const res = await request(`${publicUrl}/login?return_to=${encodeURIComponent(bad)}`);
      assert.equal(res.statusCode, 400, bad);
      await res.body.text();
      const back = await request(`${publicUrl}/login/return?code=x&state=${encodeURIComponent(bad)}`);
      assert.equal(back.statusCode, 400, bad);
      await back.body.text();
    }
    const denied = await request(`${publicUrl}/login/return?error=access_denied&state=%2F`);
    assert.equal(denied.statusCode, 401);
    await denied.body.text();
  });

  test("another user's session cannot connect through the link, nor finish its callback", async () => {
    const { connectUrl } = await getCredential();
    const refused = await browse(connectUrl, undefined, bob);
    assert.equal(refused.status, 403);
    assert.match(refused.body, /for alice@example\.com, but this browser is signed in as bob@example\.com/);
    // Alice starts; the callback reaches Bob's browser (login CSRF the other way round).
    const stop = await browse(connectUrl, isCallback);
    const stolen = await browse(stop.url.href, undefined, bob);
    assert.equal(stolen.status, 403);
    assert.match(stolen.body, /nothing was stored/);
    const anonymous = await browse(stop.url.href, undefined, createBrowser());
    assert.equal(anonymous.status, 401);
    assert.deepEqual(await replica.ds.query('SELECT * FROM upstream_oauth_tokens'), []);
  });

  test('connect through login and consent; the served token works at the MCP server', async () => {
    const { connectUrl } = await getCredential();
    // A browser not signed in at Tessera signs in first and comes back to the link.
    const browser = createBrowser();
    const bounce = await browser.follow(await browser.request(connectUrl), () => false);
    assert.equal(bounce.page.url.pathname.startsWith('/interaction/'), true, bounce.page.url.href);
    const back = await signIn(browser, bounce.page, USER);
    const done = { status: back.page.status, body: back.page.body };
    const callbackUrl = browser.history.find(isCallback);
    const connectPath = new URL(connectUrl).pathname;
    const visits = browser.history.map((u) => u.pathname);
    assert.equal(visits[0], connectPath);
    assert.ok(visits.includes('/login'), visits.join(' '));
    assert.ok(visits.lastIndexOf(connectPath) > visits.indexOf('/login'), 'back at the link after sign-in');
    assert.equal(done.status, 200, done.body);
    assert.match(done.body, /Connected guarded for alice@example.com/);

    // The same callback again: the state was used up.
    const replay = await browse(callbackUrl!.href, undefined, browser);
    assert.equal(replay.status, 400);
    assert.match(replay.body, /already used/);

    const c = await getCredential();
    assert.equal(c.connectUrl, '');
    assert.equal(c.headers.length, 1);
    assert.equal(c.headers[0]!.name, 'authorization');
    assert.ok(c.expiresAt);
    assert.equal(await listTools(c.headers[0]!.value), 'upstream-alice');

    // Another user has no token: a connect link of their own.
    assert.deepEqual((await getCredential('bob@example.com')).headers, []);
    // The dynamic registration was kept for the next connect.
    assert.equal((await admin('GET', '/api/v1/servers/guarded/oauth')).json().registeredAt, upstream.issuer);
  });

  test('the tokens rest sealed in PostgreSQL', async () => {
    const c = await getCredential();
    const token = c.headers[0]!.value.slice('Bearer '.length);
    const rows = await replica.ds.query('SELECT * FROM upstream_oauth_tokens');
    assert.equal(rows.length, 1);
    const dump = JSON.stringify(rows) + Buffer.from(rows[0].sealed_tokens).toString('latin1');
    assert.equal(dump.includes(token), false);
    assert.equal(dump.includes(token.slice(10, 40)), false);
    const servers = await replica.ds.query('SELECT * FROM upstream_oauth_servers');
    assert.ok(Buffer.isBuffer(servers[0].sealed_registration));
    const opened = JSON.parse(
      await replica.cp.secretBox.openText(rows[0].sealed_tokens, oauthContexts.tokens('guarded', USER)),
    );
    assert.equal(opened.accessToken, token);
  });

  test('an expired token is refreshed once for concurrent requests, and the refresh token rotates', async () => {
    const before = await readTokens();
    // Force expiry inside the sealed record (the row's expires_at is informational).
    const expired = { ...before, expiresAt: new Date(Date.now() - 60_000).toISOString() };
    await writeTokens(expired);
    const answers = await Promise.all([getCredential(), getCredential(), getCredential()]);
    const values = new Set(answers.map((a) => a.headers[0]?.value));
    assert.equal(values.size, 1, 'every concurrent caller gets the one refreshed token');
    const fresh = [...values][0]!;
    assert.notEqual(fresh, `Bearer ${before.accessToken}`);
    assert.equal(await listTools(fresh), 'upstream-alice');
    const after = await readTokens();
    assert.notEqual(after.refreshToken, before.refreshToken);
  });

  test('a refused refresh sends the user to connect again', async () => {
    const current = await readTokens();
    const broken = {
      ...current,
      refreshToken: 'revoked-or-unknown',
      expiresAt: new Date(Date.now() - 60_000).toISOString(),
    };
    await writeTokens(broken);
    const c = await getCredential();
    assert.deepEqual(c.headers, []);
    assert.ok(c.connectUrl.startsWith(`${publicUrl}/api/v1/connect/guarded?t=`));
  });

  test('disconnect: needs the session and its Origin, deletes the tokens and revokes them upstream', async () => {
    const { connectUrl } = await getCredential();
    assert.equal((await browse(connectUrl)).status, 200);
    const tokens = await readTokens();
    const url = `${publicUrl}/api/v1/connect/guarded`;
    const del = (browser: Browser | undefined, origin?: string) =>
      request(url, {
        method: 'DELETE',
        headers: {
          ...(browser ? { cookie: browser.cookieHeader(url) } : {}),
          ...(origin ? { origin } : {}),
        },
      });
    const anonymous = await del(undefined, publicUrl);
    assert.equal(anonymous.statusCode, 401);
    await anonymous.body.text();
    const crossSite = await del(alice, 'https://evil.example');
    assert.equal(crossSite.statusCode, 403);
    await crossSite.body.text();
    const nothing = await del(bob, publicUrl);
    assert.equal(nothing.statusCode, 404);
    await nothing.body.text();
    assert.equal((await replica.ds.query('SELECT * FROM upstream_oauth_tokens')).length, 1);

    const res = await del(alice, publicUrl);
    assert.equal(res.statusCode, 200);
    assert.deepEqual(await res.body.json(), { server: 'guarded', user: USER, revocation: 'revoked' });
    assert.deepEqual(await replica.ds.query('SELECT * FROM upstream_oauth_tokens'), []);
    const c = await getCredential();
    assert.deepEqual(c.headers, []);
    assert.ok(c.connectUrl);
    // The upstream authorization server no longer honours the refresh token.
    const { headers, params } = clientRequest(tokens.client, {
      grant_type: 'refresh_token',
      refresh_token: tokens.refreshToken,
    });
    const refresh = await request(tokens.tokenEndpoint, { method: 'POST', headers, body: params.toString() });
    assert.equal(refresh.statusCode, 400);
    assert.equal(((await refresh.body.json()) as { error: string }).error, 'invalid_grant');
    const again = await del(alice, publicUrl);
    assert.equal(again.statusCode, 404);
    await again.body.text();
  });

  test('the client ID metadata document is public', async () => {
    const res = await request(`${publicUrl}/api/v1/connect/client-metadata.json`);
    const doc = (await res.body.json()) as Record<string, unknown>;
    assert.equal(doc.client_id, `${publicUrl}/api/v1/connect/client-metadata.json`);
    assert.deepEqual(doc.redirect_uris, [`${publicUrl}/api/v1/connect/callback`]);
  });
});
