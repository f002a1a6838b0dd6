/**
 * Sign-in with GitHub through Tessera's login page, against a faithful fake of GitHub's OAuth web
 * flow and REST API (GitHub itself cannot run here): success maps the verified primary email and
 * the person's organisations and teams to groups (and so to roles); each way GitHub fails (the
 * person refuses, a bad code answered with HTTP 200 `bad_verification_code`, no verified primary
 * email, the API rate limit, wrong client credentials) fails closed: no user, no session.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ControlPlane } from '../src/app.ts';
import { createGithubIdp } from '../src/identity/github-idp.ts';
import { createBrowser, type Page } from './helpers/browser.ts';
import { type FakeGithub, type GithubPerson, startFakeGithub } from './helpers/fake-github.ts';
import { freePort } from './helpers/free-port.ts';
import { type Replica, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

const CLIENT = { clientId: 'Iv1.tessera', clientSecret: 'github-client-secret-0123456789abcdef' };
const REDIRECT = 'http://127.0.0.1:1/callback';

let db: TestDb;
let replica: Replica;
let cp: ControlPlane;
let github: FakeGithub;
let publicUrl = '';
let clientId = '';

const ada: GithubPerson = {
  id: 583231,
  login: 'ada',
  name: 'Ada Lovelace',
  emails: [
    { email: 'ada@users.noreply.github.com', primary: false, verified: true },
    { email: 'ada@example.com', primary: true, verified: true },
  ],
  orgs: ['acme'],
  teams: [{ org: 'acme', slug: 'platform' }],
};

before(async () => {
  db = await startTestDb();
  const port = await freePort();
  publicUrl = `http://127.0.0.1:${port}`;
  github = await startFakeGithub({ ...CLIENT, redirectUri: `${publicUrl}/login/github/callback` });
  replica = await startReplica(db, {
    TESSERA_PORT: String(port),
    TESSERA_PUBLIC_URL: publicUrl,
    TESSERA_LOCAL_ACCOUNTS: 'false',
    TESSERA_GITHUB_CLIENT_ID: CLIENT.clientId,
    TESSERA_GITHUB_CLIENT_SECRET: CLIENT.clientSecret,
    TESSERA_GITHUB_URL: github.url,
    TESSERA_GITHUB_API_URL: github.url,
  });
  cp = replica.cp;
  await cp.publicApp.listen({ host: '127.0.0.1', port });
  const reg = await fetch(`${publicUrl}/oauth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }),
  });
  clientId = ((await reg.json()) as { client_id: string }).client_id;
});

after(async () => {
  await replica?.close();
  await github?.close();
  await db?.stop();
});

async function githubUsers(): Promise<Array<{ email: string; groups: string[] }>> {
  return replica.ds.query("SELECT email, groups FROM users WHERE idp = 'github' ORDER BY email");
}

/** Starts an authorization in a fresh browser and clicks "Sign in with GitHub"; stops at Tessera's callback. */
async function toCallback(): Promise<{ browser: ReturnType<typeof createBrowser>; callback: URL }> {
  const browser = createBrowser();
  const authorize = new URL(`${publicUrl}/oauth/authorize`);
  for (const [k, v] of Object.entries({
    client_id: clientId,
    redirect_uri: REDIRECT,
    response_type: 'code',
    scope: 'openid admin',
    resource: `${publicUrl}/api`,
    code_challenge: createHash('sha256').update('v'.repeat(50)).digest('base64url'),
    code_challenge_method: 'S256',
  }))
    authorize.searchParams.set(k, v);
  const { page } = await browser.follow(await browser.request(authorize), () => false);
  const link = /href="(\/interaction\/[\w-]+\/idp\/github)"/.exec(page.body);
  assert.ok(link, `the login page offers GitHub:\n${page.body}`);
  assert.doesNotMatch(page.body, /type="password"/, 'local accounts are off');
  const next = await browser.follow(await browser.request(new URL(link[1]!, publicUrl)), (u) =>
    u.pathname.startsWith('/login/github/callback'),
  );
  assert.ok(next.stoppedAt, `GitHub sent the browser back: ${next.page.status} ${next.page.body}`);
  return { browser, callback: next.stoppedAt };
}

async function finish(browser: ReturnType<typeof createBrowser>, callback: URL): Promise<Page> {
  return (await browser.follow(await browser.request(callback), (u) => u.href.startsWith(REDIRECT))).page;
}

function assertFailedClosed(page: Page, message: RegExp, browser: ReturnType<typeof createBrowser>) {
  assert.equal(page.status, 401, page.body);
  assert.match(page.body, /Sign-in failed/);
  assert.match(page.body, message);
  assert.doesNotMatch(browser.cookieHeader(`${publicUrl}/api/v1/me`), /tessera_oauth_session=/, 'no session');
}

describe('GitHub sign-in', () => {
  test('each GitHub failure fails closed, with GitHub’s reason, and creates no user', async () => {
    // The person refuses at GitHub.
    github.person = 'deny';
    let { browser, callback } = await toCallback();
    assert.equal(callback.searchParams.get('error'), 'access_denied');
    assertFailedClosed(await finish(browser, callback), /GitHub refused the sign-in: access_denied/, browser);

    // A code GitHub does not know: HTTP 200 with error=bad_verification_code.
    github.person = ada;
    ({ browser, callback } = await toCallback());
    callback.searchParams.set('code', 'f00dbabef00dbabef00d');
    assertFailedClosed(
      await finish(browser, callback),
      /GitHub refused the code: bad_verification_code/,
      browser,
    );

    // No verified primary email (a verified secondary one is not enough).
    github.person = {
      ...ada,
      emails: [
        { email: 'ada@example.com', primary: true, verified: false },
        { email: 'other@example.com', primary: false, verified: true },
      ],
    };
    ({ browser, callback } = await toCallback());
    assertFailedClosed(await finish(browser, callback), /no verified primary email/, browser);

    // The REST API's rate limit is used up.
    github.person = ada;
    github.rateLimited = true;
    ({ browser, callback } = await toCallback());
    assertFailedClosed(
      await finish(browser, callback),
      /GitHub refused \/user: HTTP 403 API rate limit exceeded/,
      browser,
    );
    github.rateLimited = false;

    assert.deepEqual(await githubUsers(), [], 'no user was created');
  });

  test('wrong client credentials and a replayed code are refused as GitHub refuses them', async () => {
    const pending = { codeVerifier: 'w'.repeat(50), nonce: 'n' };
    const redirectUri = `${publicUrl}/login/github/callback`;
    const codeFor = async () => {
      const idp = createGithubIdp({ ...CLIENT, githubUrl: github.url, apiUrl: github.url });
      const res = await fetch(await idp.authorizationUrl('s', pending, redirectUri), { redirect: 'manual' });
      return new URL(res.headers.get('location')!);
    };
    github.person = ada;
    const wrongSecret = createGithubIdp({
      ...CLIENT,
      clientSecret: 'not-the-secret',
      githubUrl: github.url,
      apiUrl: github.url,
    });
    await assert.rejects(
      wrongSecret.finish(await codeFor(), 's', pending, redirectUri),
      /incorrect_client_credentials/,
    );
    const idp = createGithubIdp({ ...CLIENT, githubUrl: github.url, apiUrl: github.url });
    const callback = await codeFor();
    assert.equal((await idp.finish(callback, 's', pending, redirectUri)).email, 'ada@example.com');
    await assert.rejects(
      idp.finish(callback, 's', pending, redirectUri),
      /bad_verification_code/,
      'codes are single use',
    );
    await assert.rejects(
      idp.finish(await codeFor(), 's', { ...pending, codeVerifier: 'x'.repeat(50) }, redirectUri),
      /bad_verification_code/,
      'the PKCE verifier must match',
    );
    await assert.rejects(
      idp.finish(await codeFor(), 'other-state', pending, redirectUri),
      /state does not match/,
    );
  });

  test('success: the verified primary email, organisations and teams as groups, roles from group bindings', async () => {
    await cp.identity.users.bind({ kind: 'group', principal: 'acme/platform', role: 'admin' });
    github.person = ada;
    github.apiCalls.length = 0;
    const { browser, callback } = await toCallback();
    const page = await finish(browser, callback);
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /Allow access\?/, 'on to the consent page');
    assert.deepEqual(github.apiCalls, ['/user', '/user/emails', '/user/orgs', '/user/teams']);
    assert.deepEqual(await githubUsers(), [{ email: 'ada@example.com', groups: ['acme', 'acme/platform'] }]);
    // The session now works on the admin API, with the role granted to the GitHub team.
    const me = await cp.publicApp.inject({
      method: 'GET',
      url: '/api/v1/me',
      headers: { cookie: browser.cookieHeader(`${publicUrl}/api/v1/me`) },
    });
    assert.equal(me.statusCode, 200, me.body);
    assert.deepEqual([me.json().email, me.json().roles], ['ada@example.com', ['admin']]);
  });
});
