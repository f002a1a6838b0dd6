/**
 * The authorization server end to end, as an MCP client meets it: `tessera start` (control plane,
 * embedded Postgres, server-everything behind a local proxy), a second oidc-provider as the
 * enterprise IdP behind Tessera's login, and the official MCP TypeScript SDK client discovering
 * everything from the MCP URL alone (RFC 9728 → RFC 8414 → dynamic registration → PKCE →
 * resource-bound JWT). The browser steps (login at the IdP, consent at Tessera) are driven over
 * real HTTP. Then the attacks, each of which must fail closed with its specific error.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { readSettings } from '../src/config.ts';
import { openSecretBox } from '../src/crypto/open-secret-box.ts';
import { openDataSource } from '../src/db/data-source.ts';
import { loadSigningKeys, type SigningKeys } from '../src/keys/signing-keys.ts';
import { createBrowser, type Page } from './helpers/browser.ts';
import { type EnterpriseIdp, startEnterpriseIdp } from './helpers/enterprise-idp.ts';
import { freePort } from './helpers/free-port.ts';
import { MemoryOAuthClient } from './helpers/memory-oauth-client.ts';
import { startTessera, type TesseraProcess } from './helpers/tessera-process.ts';

const REDIRECT = 'http://127.0.0.1:1/callback';

let idp: EnterpriseIdp;
let tessera: TesseraProcess;
let signingKey: SigningKeys['privateKey'];
let signingKid = '';
let otherResource = '';

before(async () => {
  const [idpPort, port] = await Promise.all([freePort(), freePort()]);
  const publicUrl = `http://127.0.0.1:${port}`;
  idp = await startEnterpriseIdp({
    port: idpPort,
    clientId: 'tessera',
    clientSecret: 'tessera-secret-at-the-idp',
    redirectUri: `${publicUrl}/login/oidc/callback`,
    groups: { 'ada@example.com': ['eng', 'sec-audit'] },
  });
  tessera = await startTessera({
    TESSERA_PORT: String(port),
    TESSERA_ADMIN_EMAIL: 'ada@example.com',
    TESSERA_OIDC_ISSUER: idp.issuer,
    TESSERA_OIDC_CLIENT_ID: 'tessera',
    TESSERA_OIDC_CLIENT_SECRET: 'tessera-secret-at-the-idp',
    TESSERA_OIDC_SCOPES: 'openid email profile groups',
    TESSERA_OIDC_LABEL: 'Example Corp',
  });
  // The attacks below need tokens signed with Tessera's real key: opened from its database with its
  // own local encryption key, as a second replica would.
  const ds = await openDataSource(await tessera.databaseUrl());
  const keys = await loadSigningKeys(ds, await openSecretBox(readSettings(tessera.env)));
  await ds.destroy();
  signingKid = keys.kid;
  signingKey = keys.privateKey;
  otherResource = `${tessera.publicUrl.replace(/:\d+$/, ':1')}/other/mcp`;
});

after(async () => {
  const code = await tessera?.stop();
  await idp?.close();
  if (tessera && (code !== 0 || process.env.E2E_DUMP)) process.stderr.write(tessera.stderr());
});

const provider = new MemoryOAuthClient({
  redirectUrl: REDIRECT,
  metadata: {
    client_name: 'Tessera e2e client',
    redirect_uris: [REDIRECT],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  },
});
const browser = createBrowser();
let code = '';
let idpCallback: URL | undefined;

function transport() {
  return new StreamableHTTPClientTransport(new URL(tessera.mcpUrl), { authProvider: provider });
}

describe('the authorization-code flow of the MCP SDK client, through the proxy', () => {
  test('without a token the SDK discovers the AS, registers, and is sent to authorize', async () => {
    const client = new Client({ name: 'e2e', version: '1' });
    await assert.rejects(client.connect(transport()), /Unauthorized/);
    const url = provider.authorizationUrl!;
    assert.ok(url, 'the SDK asked to open the authorization URL');
    assert.equal(url.origin + url.pathname, `${tessera.publicUrl}/oauth/authorize`);
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(url.searchParams.get('resource'), tessera.mcpUrl);
    assert.ok(provider.info?.client_id, 'dynamically registered');
  });

  test('the person signs in at the enterprise IdP and consents at Tessera', async () => {
    const stop = (u: URL) => u.href.startsWith(REDIRECT) || u.pathname === '/login/oidc/callback';
    // 1. The authorization request lands on Tessera's login page.
    let { page } = await browser.follow(await browser.request(provider.authorizationUrl!), stop);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.match(page.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    const sso = /href="(\/interaction\/[\w-]+\/idp\/oidc)"/.exec(page.body);
    assert.ok(sso, `the login page offers the IdP:\n${page.body}`);
    assert.match(page.body, /Sign in with Example Corp/);
    // 2. To the IdP, through its login and consent, and back to Tessera's callback.
    let next = await browser.follow(await browser.request(new URL(sso[1]!, page.url)), stop);
    page = await browser.submit(next.page, /interaction/, { login: 'ada@example.com', password: 'any' });
    next = await browser.follow(page, stop);
    if (!next.stoppedAt) {
      page = await browser.submit(next.page, /interaction/, {});
      next = await browser.follow(page, stop);
    }
    idpCallback = next.stoppedAt;
    assert.equal(idpCallback?.pathname, '/login/oidc/callback', 'the IdP sent the browser back to Tessera');
    // 3. Tessera's consent page names the client, the redirect URI and the MCP server.
    next = await browser.follow(await browser.request(idpCallback!), stop);
    page = next.page;
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /Tessera e2e client/);
    assert.match(page.body, new RegExp(REDIRECT.replace(/[.:/]/g, '\\$&')));
    assert.ok(page.body.includes(tessera.mcpUrl), 'the consent page names the server');
    assert.match(page.body, /name="csrf" value="[\w-]{20,}"/);
    // 4. A consent post without the CSRF token is refused and changes nothing.
    const forged = await browser.request(new URL(/action="([^"]+consent)"/.exec(page.body)![1]!, page.url), {
      method: 'POST',
      form: { decision: 'allow' },
    });
    assert.equal(forged.status, 403);
    page = await browser.submit(page, /consent$/, {}, { name: 'decision', value: 'allow' });
    next = await browser.follow(page, stop);
    assert.ok(next.stoppedAt?.href.startsWith(REDIRECT), `redirected to the client: ${next.page.body}`);
    assert.equal(next.stoppedAt!.searchParams.get('iss'), tessera.publicUrl, 'RFC 9207 iss');
    code = next.stoppedAt!.searchParams.get('code')!;
    assert.ok(code);
  });

  test('the SDK exchanges the code and calls tools through the proxy', async () => {
    const t = transport();
    await t.finishAuth(code);
    const tokens = provider.saved!;
    assert.ok(tokens.access_token && tokens.refresh_token, 'an access and a refresh token');
    const [header, payload] = tokens.access_token
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>);
    assert.equal(header!.alg, 'ES256');
    assert.equal(header!.typ, 'at+jwt');
    assert.equal(payload!.aud, tessera.mcpUrl, 'the audience is exactly this one server');
    assert.equal(payload!.iss, tessera.publicUrl);
    assert.equal(payload!.email, 'ada@example.com');
    assert.deepEqual(payload!.groups, ['eng', 'sec-audit'], 'groups from the IdP claim');
    assert.deepEqual(payload!.roles, ['owner'], 'the bootstrap administrator owns the installation');
    assert.equal(payload!.client_id, provider.info!.client_id);
    assert.match(String(payload!.scope), /\bmcp\b/);
    const client = new Client({ name: 'e2e', version: '1' });
    await client.connect(t);
    const echo = await client.callTool({ name: 'echo', arguments: { message: 'through oauth' } });
    assert.match(JSON.stringify(echo), /through oauth/);
    await client.close();
  });
});

async function tokenRequest(form: Record<string, string>) {
  const res = await fetch(`${tessera.publicUrl}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, string> };
}

describe('refresh tokens rotate and can be revoked', () => {
  test('a refresh gives a new refresh token; the old one is then refused', async () => {
    const old = provider.saved!.refresh_token!;
    const clientId = provider.info!.client_id;
    const first = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: old,
      client_id: clientId,
      resource: tessera.mcpUrl,
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.ok(first.body.refresh_token && first.body.refresh_token !== old, 'rotated');
    const replay = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: old,
      client_id: clientId,
    });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
    // Revocation: the current refresh token stops working.
    const revoke = await fetch(`${tessera.publicUrl}/oauth/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: first.body.refresh_token, client_id: clientId }).toString(),
    });
    assert.equal(revoke.status, 200);
    const after = await tokenRequest({
      grant_type: 'refresh_token',
      refresh_token: first.body.refresh_token,
      client_id: clientId,
    });
    assert.equal(after.body.error, 'invalid_grant');
  });
});

function post(token: string | undefined, url = tessera.mcpUrl) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: {
        protocolVersion: '2025-11-25',
        capabilities: {},
        clientInfo: { name: 'attack', version: '1' },
      },
    }),
  });
}

async function realKeyToken(
  o: { aud?: string; iss?: string; exp?: number; nbf?: number; scope?: string | null } = {},
) {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { email: 'ada@example.com', groups: [] };
  if (o.scope !== null) claims.scope = o.scope ?? 'mcp';
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: signingKid, typ: 'at+jwt' })
    .setIssuer(o.iss ?? tessera.publicUrl)
    .setAudience(o.aud ?? tessera.mcpUrl)
    .setSubject('attacker')
    .setIssuedAt(now - 10)
    .setExpirationTime(o.exp ?? now + 300);
  if (o.nbf) jwt.setNotBefore(o.nbf);
  return jwt.sign(signingKey);
}

async function assertInvalidToken(token: string, description: RegExp) {
  const res = await post(token);
  assert.equal(res.status, 401);
  const challenge = res.headers.get('www-authenticate') ?? '';
  assert.match(challenge, /^Bearer error="invalid_token"/);
  assert.match(challenge, description);
  assert.match(challenge, /resource_metadata="[^"]+\/\.well-known\/oauth-protected-resource\/mcp"/);
}

describe('attacks on the resource side fail closed', () => {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = (exp = Math.floor(Date.now() / 1000) + 300) => ({
    iss: tessera.publicUrl,
    aud: tessera.mcpUrl,
    sub: 'attacker',
    exp,
    iat: exp - 300,
    scope: 'mcp',
  });

  test('the control: a well-formed token signed with the real key is accepted', async () => {
    const res = await post(await realKeyToken());
    assert.equal(res.status, 200, res.headers.get('www-authenticate') ?? '');
  });

  test('alg: none', async () => {
    await assertInvalidToken(`${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(body())}.`, /algorithm|malformed/);
  });

  test('HS256 signed with the public key', async () => {
    const jwks = (await (await fetch(`${tessera.publicUrl}/oauth/jwks`)).json()) as { keys: JWK[] };
    const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
    const forged = await new SignJWT(body())
      .setProtectedHeader({ alg: 'HS256', kid: signingKid, typ: 'at+jwt' })
      .sign(secret);
    await assertInvalidToken(forged, /algorithm/);
  });

  test('an unknown kid', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT(body())
      .setProtectedHeader({ alg: 'ES256', kid: 'unknown', typ: 'at+jwt' })
      .sign(privateKey);
    await assertInvalidToken(forged, /unknown key/);
  });

  test('a known kid over another key', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    void (await exportJWK(publicKey));
    const forged = await new SignJWT(body())
      .setProtectedHeader({ alg: 'ES256', kid: signingKid, typ: 'at+jwt' })
      .sign(privateKey);
    await assertInvalidToken(forged, /signature/);
  });

  test('expired', async () => {
    await assertInvalidToken(await realKeyToken({ exp: Math.floor(Date.now() / 1000) - 60 }), /expired/);
  });

  test('not yet valid', async () => {
    await assertInvalidToken(await realKeyToken({ nbf: Math.floor(Date.now() / 1000) + 600 }), /nbf claim/);
  });

  test('wrong issuer', async () => {
    await assertInvalidToken(await realKeyToken({ iss: 'https://evil.example' }), /iss claim/);
  });

  test('a token minted for another server', async () => {
    await assertInvalidToken(await realKeyToken({ aud: otherResource }), /aud claim/);
  });

  test('a token without the required scope gets 403 insufficient_scope with the full list', async () => {
    const res = await post(await realKeyToken({ scope: null }));
    assert.equal(res.status, 403);
    assert.match(
      res.headers.get('www-authenticate') ?? '',
      /^Bearer error="insufficient_scope", .*scope="mcp", resource_metadata=/,
    );
  });

  test('a token in the query string', async () => {
    const token = await realKeyToken();
    const res = await post(undefined, `${tessera.mcpUrl}?access_token=${token}`);
    assert.equal(res.status, 400);
    assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_request"/);
  });
});

describe('attacks on the authorization server fail closed', () => {
  async function authorize(params: Record<string, string>): Promise<Page> {
    const url = new URL(`${tessera.publicUrl}/oauth/authorize`);
    const base = {
      client_id: provider.info!.client_id,
      response_type: 'code',
      redirect_uri: REDIRECT,
      scope: 'mcp',
      resource: tessera.mcpUrl,
      state: 's1',
      code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
      code_challenge_method: 'S256',
    };
    for (const [k, v] of Object.entries({ ...base, ...params })) if (v !== '') url.searchParams.set(k, v);
    return createBrowser().request(url);
  }
  const errorAt = (page: Page) => new URL(page.location!).searchParams;

  test('the control: a good request goes to the login page', async () => {
    const page = await authorize({});
    assert.equal(page.status, 303);
    assert.match(page.location!, /\/interaction\//);
  });

  test('a redirect URI that does not match exactly is refused without redirecting', async () => {
    for (const redirect_uri of [
      `${REDIRECT}/`,
      'http://127.0.0.1:1/callback?x=1',
      'http://127.0.0.1:2/callback',
    ]) {
      const page = await authorize({ redirect_uri });
      assert.equal(page.status, 400, redirect_uri);
      assert.equal(page.location, undefined);
      assert.match(page.body, /redirect_uri/);
    }
  });

  test('missing PKCE', async () => {
    const page = await authorize({ code_challenge: '', code_challenge_method: '' });
    assert.equal(errorAt(page).get('error'), 'invalid_request');
    assert.match(errorAt(page).get('error_description') ?? '', /requires PKCE/);
  });

  test('plain PKCE', async () => {
    const page = await authorize({ code_challenge: 'a'.repeat(43), code_challenge_method: 'plain' });
    assert.equal(errorAt(page).get('error'), 'invalid_request');
    assert.match(errorAt(page).get('error_description') ?? '', /code_challenge_method/);
  });

  test('a resource that is not a registered MCP server', async () => {
    const page = await authorize({ resource: otherResource });
    assert.equal(errorAt(page).get('error'), 'invalid_target');
  });

  test('a replayed authorization code is refused', async () => {
    const replay = await tokenRequest({
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT,
      code_verifier: provider.verifier,
      client_id: provider.info!.client_id,
      resource: tessera.mcpUrl,
    });
    assert.equal(replay.status, 400);
    assert.equal(replay.body.error, 'invalid_grant');
  });

  test("a replayed state at Tessera's IdP callback is refused", async () => {
    const page = await browser.request(idpCallback!);
    assert.equal(page.status, 400);
    assert.match(page.body, /already used|does not belong/);
  });

  test('a callback from another browser (no state cookie) is refused', async () => {
    const page = await createBrowser().request(idpCallback!);
    assert.equal(page.status, 400);
    assert.match(page.body, /does not belong to this browser/);
  });
});
