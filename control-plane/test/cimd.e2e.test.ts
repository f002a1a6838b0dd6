/**
 * Client ID metadata documents end to end: the MCP SDK client uses an https URL as its client_id
 * (no registration), Tessera fetches the document from it, shows its name on the consent page, and
 * the SDK then calls a tool through the proxy. The document is served by this test over https with
 * a throwaway CA that the `tessera start` child trusts through NODE_EXTRA_CA_CERTS; its host is in
 * TESSERA_CIMD_TRUSTED_HOSTS, since oidc-provider otherwise refuses loopback addresses. The same
 * document at a host not in that list is refused by the guard.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createTestPki, type TestPki } from '../../proxy/test/helpers/test-pki.ts';
import { createBrowser } from './helpers/browser.ts';
import { MemoryOAuthClient } from './helpers/memory-oauth-client.ts';
import { startTessera, type TesseraProcess } from './helpers/tessera-process.ts';

const REDIRECT = 'http://127.0.0.1:1/callback';
const PASSWORD = 'cimd test password 1';

let pki: TestPki;
let docs: Server;
let tessera: TesseraProcess;
let trustedUrl = '';
let untrustedUrl = '';

before(async () => {
  pki = createTestPki({ dns: ['localhost'], ip: ['127.0.0.1'] });
  docs = createServer({ cert: pki.cert, key: pki.key }, (req, res) => {
    const clientId = `https://${req.headers.host}${req.url}`;
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=60' });
    res.end(
      JSON.stringify({
        client_id: clientId,
        client_name: 'CIMD e2e client',
        redirect_uris: [REDIRECT],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      }),
    );
  });
  await new Promise<void>((resolve) => docs.listen(0, '127.0.0.1', resolve));
  const { port } = docs.address() as AddressInfo;
  trustedUrl = `https://localhost:${port}/clients/e2e.json`;
  untrustedUrl = `https://127.0.0.1:${port}/clients/e2e.json`;
  tessera = await startTessera({
    NODE_EXTRA_CA_CERTS: pki.caFile,
    TESSERA_CIMD_TRUSTED_HOSTS: `localhost:${port}`,
    TESSERA_ADMIN_EMAIL: 'ada@example.com',
    TESSERA_ADMIN_PASSWORD: PASSWORD,
  });
});

after(async () => {
  const code = await tessera?.stop();
  if (tessera && (code !== 0 || process.env.E2E_DUMP)) process.stderr.write(tessera.stderr());
  await new Promise<void>((resolve) => (docs ? docs.close(() => resolve()) : resolve()));
  pki?.remove();
});

test('the SDK client signs in with a client ID metadata document and calls a tool', async () => {
  const provider = new MemoryOAuthClient({
    redirectUrl: REDIRECT,
    metadata: {
      client_name: 'CIMD e2e client',
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none',
    },
    clientMetadataUrl: trustedUrl,
  });
  const transport = () =>
    new StreamableHTTPClientTransport(new URL(tessera.mcpUrl), { authProvider: provider });
  await assert.rejects(new Client({ name: 'cimd', version: '1' }).connect(transport()), /Unauthorized/);
  const url = provider.authorizationUrl;
  assert.ok(url, 'the SDK asked to open the authorization URL');
  assert.equal(url.searchParams.get('client_id'), trustedUrl, 'the URL is the client_id, no registration');

  const browser = createBrowser();
  const stop = (u: URL) => u.href.startsWith(REDIRECT);
  let { page } = await browser.follow(await browser.request(url), stop);
  assert.equal(page.status, 200, page.body);
  page = await browser.submit(page, /login$/, { email: 'ada@example.com', password: PASSWORD });
  let next = await browser.follow(page, stop);
  assert.match(next.page.body, /CIMD e2e client/, 'the consent page names the client from its document');
  assert.ok(next.page.body.includes(trustedUrl), 'and shows its client ID');
  page = await browser.submit(next.page, /consent$/, {}, { name: 'decision', value: 'allow' });
  next = await browser.follow(page, stop);
  const code = next.stoppedAt?.searchParams.get('code');
  assert.ok(code, `redirected with a code: ${next.page.body}`);

  const t = transport();
  await t.finishAuth(code);
  const payload = JSON.parse(
    Buffer.from(provider.saved!.access_token.split('.')[1]!, 'base64url').toString(),
  );
  assert.equal(payload.client_id, trustedUrl);
  const client = new Client({ name: 'cimd', version: '1' });
  await client.connect(t);
  const echo = await client.callTool({ name: 'echo', arguments: { message: 'via cimd' } });
  assert.match(JSON.stringify(echo), /via cimd/);
  await client.close();
});

test('a metadata document at a loopback host not in TESSERA_CIMD_TRUSTED_HOSTS is refused', async () => {
  const authorize = new URL(`${tessera.publicUrl}/oauth/authorize`);
  for (const [k, v] of Object.entries({
    client_id: untrustedUrl,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid',
    resource: tessera.mcpUrl,
    code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    code_challenge_method: 'S256',
  }))
    authorize.searchParams.set(k, v);
  const res = await fetch(authorize, { redirect: 'manual' });
  assert.equal(res.status, 400);
  const body = await res.text();
  assert.match(body, /invalid_client/);
  assert.doesNotMatch(body, /CIMD e2e client/);
});
