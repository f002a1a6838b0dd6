/**
 * Local accounts on real Postgres, through the real login page: created by an administrator with a
 * password or a one-time setup link, signed in with, password changed, deleted; every bad input
 * refused without a trace; who may manage them; and failed sign-ins throttled alike for accounts
 * that exist and ones that do not.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { DataSource } from 'typeorm';
import { type Browser, createBrowser } from './helpers/browser.ts';
import { ADMIN_TOKEN, type Replica, startListeningReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

let db: TestDb;
let replica: Replica;
let ds: DataSource;
let publicUrl = '';
const ROOT_PASSWORD = 'correct horse battery staple';
const admin = { bearer: ADMIN_TOKEN };

type Caller = { bearer: string } | Browser;

async function api(who: Caller, method: string, path: string, body?: unknown) {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if ('bearer' in who) headers.authorization = `Bearer ${who.bearer}`;
  else {
    headers.cookie = who.cookieHeader(`${publicUrl}${path}`);
    headers.origin = publicUrl;
  }
  const res = await fetch(`${publicUrl}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, text };
}

/** Signs in on the real login page in a fresh browser; status 200 when signed in. */
async function signIn(email: string, password: string) {
  const browser = createBrowser();
  const start = await browser.follow(
    await browser.request(`${publicUrl}/login?return_to=/healthz`),
    () => false,
  );
  assert.equal(start.page.status, 200, start.page.body);
  const answer = await browser.submit(start.page, /login$/, { email, password });
  if (answer.status !== 303) return { browser, status: answer.status, body: answer.body };
  const done = await browser.follow(answer, () => false);
  assert.equal(done.page.url.pathname, '/healthz', done.page.body);
  return { browser, status: 200, body: done.page.body };
}

async function userCount(): Promise<number> {
  return Number((await ds.query('SELECT count(*) AS n FROM users'))[0].n);
}

before(async () => {
  db = await startTestDb();
  const started = await startListeningReplica(db, {
    TESSERA_ADMIN_EMAIL: 'root@example.com',
    TESSERA_ADMIN_PASSWORD: ROOT_PASSWORD,
  });
  ({ publicUrl } = started);
  replica = started;
  ds = replica.ds;
});

after(async () => {
  await replica?.close();
  await db?.stop();
});

describe('a local account from creation to deletion', () => {
  test('create, sign in, change the password, the old one is refused, delete, refused', async () => {
    const first = 'first password 1';
    const second = 'second password 2';
    const created = await api(admin, 'POST', '/api/v1/users', {
      email: 'Ana@Example.com',
      password: first,
      name: 'Ana',
    });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(
      [created.json.email, created.json.name, created.json.idp, created.json.setupUrl],
      ['ana@example.com', 'Ana', 'local', undefined],
    );
    const listed = (await api(admin, 'GET', '/api/v1/users')).json.users;
    assert.ok(listed.some((u: { id: string; idp: string }) => u.id === created.json.id && u.idp === 'local'));

    const session = await signIn('ana@example.com', first);
    assert.equal(session.status, 200, session.body);
    const me = await api(session.browser, 'GET', '/api/v1/me');
    assert.deepEqual([me.status, me.json.email, me.json.via], [200, 'ana@example.com', 'session']);

    const change = (body: unknown) => api(session.browser, 'POST', '/api/v1/me/password', body);
    const wrong = await change({ currentPassword: 'not my password', newPassword: second });
    assert.equal(wrong.status, 403);
    assert.match(wrong.json.message, /current password is wrong/);
    for (const [body, message] of [
      [{ currentPassword: first, newPassword: 'too short' }, /at least 12/],
      [{ currentPassword: first, newPassword: 'ana@example.com' }, /not be the email/],
      [{ currentPassword: first, newPassword: 'x'.repeat(1025) }, /at most 1024 bytes/],
      [{ currentPassword: first }, /must be a string/],
      [{ currentPassword: '', newPassword: second }, /"currentPassword"/],
      [{ currentPassword: first, newPassword: second, extra: 1 }, /unknown field "extra"/],
      [[first, second], /must be \{/],
    ] as const) {
      const res = await change(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.message, message);
    }
    // A session change needs the control plane's own Origin, like every other change.
    const forged = await fetch(`${publicUrl}/api/v1/me/password`, {
      method: 'POST',
      headers: {
        cookie: session.browser.cookieHeader(`${publicUrl}/api/v1/me`),
        'content-type': 'application/json',
        origin: 'https://evil.example',
      },
      body: JSON.stringify({ currentPassword: first, newPassword: second }),
    });
    assert.equal(forged.status, 403);
    assert.equal((await signIn('ana@example.com', first)).status, 200, 'nothing changed so far');

    assert.equal((await change({ currentPassword: first, newPassword: second })).status, 204);
    const old = await signIn('ana@example.com', first);
    assert.equal(old.status, 401);
    assert.match(old.body, /Wrong email or password\./);
    assert.equal((await signIn('ANA@example.com', second)).status, 200);

    const removed = await api(admin, 'DELETE', `/api/v1/users/${created.json.id}`);
    assert.equal(removed.status, 204, removed.text);
    const gone = await api(session.browser, 'GET', '/api/v1/me');
    assert.equal(gone.status, 401, 'the session no longer names anyone');
    assert.match(gone.json.message, /no longer exists/);
    assert.equal((await signIn('ana@example.com', second)).status, 401);
    assert.equal((await api(admin, 'DELETE', `/api/v1/users/${created.json.id}`)).status, 404);
  });
});

describe('bad input changes nothing', () => {
  test('every invalid account is refused with a reason', async () => {
    const before = await userCount();
    const cases: Array<[unknown, RegExp]> = [
      ['ana@example.com', /the body must be/],
      [null, /the body must be/],
      [{}, /"email" must be an email address/],
      [{ email: 'no-at-sign' }, /"email"/],
      [{ email: 'a@localhost' }, /"email"/],
      [{ email: 'a b@example.com' }, /"email"/],
      [{ email: 'a@exa mple.com' }, /"email"/],
      [{ email: 'a@@example.com' }, /"email"/],
      [{ email: `${'a'.repeat(65)}@example.com` }, /"email"/],
      [{ email: `a@${'b'.repeat(250)}.com` }, /at most 254/],
      [{ email: 'a\u0000@example.com' }, /"email"/],
      [{ email: 42 }, /"email"/],
      [{ email: 'new@example.com', password: 'elevenchars' }, /"password": .*at least 12/],
      [{ email: 'new@example.com', password: 'x'.repeat(1025) }, /at most 1024 bytes/],
      [{ email: 'new@example.com', password: 'NEW@example.com' }, /not be the email/],
      [{ email: 'new@example.com', password: 123456789012345 }, /must be a string/],
      [{ email: 'new@example.com', name: 5 }, /"name"/],
      [{ email: 'new@example.com', name: 'a\nb' }, /"name"/],
      [{ email: 'new@example.com', name: 'n'.repeat(201) }, /"name"/],
      [{ email: 'new@example.com', role: 'owner' }, /unknown field "role"/],
    ];
    for (const [body, message] of cases) {
      const res = await api(admin, 'POST', '/api/v1/users', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.json.error, 'TESSERA_INVALID_ARGUMENT');
      assert.match(res.json.message, message, JSON.stringify(body));
    }
    assert.equal(await userCount(), before);
    assert.equal(Number((await ds.query('SELECT count(*) AS n FROM account_setup_tokens'))[0].n), 0);
  });

  test('a duplicate email is a conflict, in any case, and leaves the first account as it was', async () => {
    const password = 'the first one 1';
    assert.equal(
      (await api(admin, 'POST', '/api/v1/users', { email: 'dup@example.com', password })).status,
      201,
    );
    const before = await userCount();
    for (const body of [
      { email: 'DUP@example.com', password: 'another password' },
      { email: 'dup@example.com' },
    ]) {
      const res = await api(admin, 'POST', '/api/v1/users', body);
      assert.equal(res.status, 409, JSON.stringify(body));
      assert.match(res.json.message, /exists already/);
    }
    assert.equal(await userCount(), before);
    assert.equal(Number((await ds.query('SELECT count(*) AS n FROM account_setup_tokens'))[0].n), 0);
    assert.equal((await signIn('dup@example.com', password)).status, 200);
  });

  test('deleting: unknown ids, accounts of an identity provider, the last owner', async () => {
    for (const id of ['not-a-uuid', '00000000-0000-4000-8000-000000000000']) {
      assert.equal((await api(admin, 'DELETE', `/api/v1/users/${id}`)).status, 404, id);
    }
    const external = await replica.cp.identity.users.upsertExternal({
      idp: 'oidc',
      subject: 'ext',
      email: 'ext@example.com',
      name: 'Ext',
      groups: [],
    });
    const ext = await api(admin, 'DELETE', `/api/v1/users/${external.id}`);
    assert.equal(ext.status, 409);
    assert.match(ext.json.message, /signs in through "oidc"/);
    const root = (
      await ds.query("SELECT id FROM users WHERE idp = 'local' AND email = 'root@example.com'")
    )[0].id;
    const last = await api(admin, 'DELETE', `/api/v1/users/${root}`);
    assert.equal(last.status, 409);
    assert.match(last.json.message, /last owner binding/);
    assert.equal((await signIn('root@example.com', ROOT_PASSWORD)).status, 200, 'still there');
  });

  test('the bootstrap token has no password to change', async () => {
    const res = await api(admin, 'POST', '/api/v1/me/password', {
      currentPassword: ROOT_PASSWORD,
      newPassword: 'something else entirely',
    });
    assert.equal(res.status, 409);
    assert.match(res.json.message, /bootstrap token/);
  });
});

describe('who may manage accounts', () => {
  test('a basic user may not; an admin may, except for an owner', async () => {
    const make = async (email: string, role: string) => {
      const password = `${role} password 123`;
      assert.equal((await api(admin, 'POST', '/api/v1/users', { email, password })).status, 201);
      assert.equal(
        (await api(admin, 'POST', '/api/v1/role-bindings', { kind: 'user', principal: email, role })).status,
        201,
      );
      const s = await signIn(email, password);
      assert.equal(s.status, 200, s.body);
      return s.browser;
    };
    const basic = await make('basic@example.com', 'basic');
    const before = await userCount();
    const refused = await api(basic, 'POST', '/api/v1/users', {
      email: 'x@example.com',
      password: 'long enough pw',
    });
    assert.equal(refused.status, 403);
    assert.match(refused.json.message, /needs the "manage_identity" permission/);
    const rootId = (await ds.query("SELECT id FROM users WHERE email = 'root@example.com'"))[0].id;
    assert.equal((await api(basic, 'DELETE', `/api/v1/users/${rootId}`)).status, 403);
    assert.equal(await userCount(), before);

    const adminBrowser = await make('adm@example.com', 'admin');
    await api(admin, 'POST', '/api/v1/role-bindings', {
      kind: 'user',
      principal: 'boss@example.com',
      role: 'owner',
    });
    const boss = await api(adminBrowser, 'POST', '/api/v1/users', { email: 'boss@example.com' });
    assert.equal(boss.status, 403, 'whoever set its password would be an owner');
    assert.match(boss.json.message, /only an owner may create/);
    assert.equal((await api(adminBrowser, 'DELETE', `/api/v1/users/${rootId}`)).status, 403);
    const staff = await api(adminBrowser, 'POST', '/api/v1/users', { email: 'staff@example.com' });
    assert.equal(staff.status, 201, staff.text);
    assert.equal((await api(adminBrowser, 'DELETE', `/api/v1/users/${staff.json.id}`)).status, 204);
    assert.equal(
      (await api(admin, 'DELETE', '/api/v1/role-bindings?kind=user&principal=boss@example.com&role=owner'))
        .status,
      204,
    );
  });
});

describe('the setup link', () => {
  const setupForm = async (url: string) => {
    const browser = createBrowser();
    return { browser, page: await browser.request(url) };
  };

  test('sets the first password once', async () => {
    const created = await api(admin, 'POST', '/api/v1/users', { email: 'ben@example.com', name: 'Ben' });
    assert.equal(created.status, 201, created.text);
    const url = new URL(created.json.setupUrl);
    assert.equal(`${url.origin}${url.pathname}`, `${publicUrl}/account/setup`);
    const hours = (Date.parse(created.json.setupExpiresAt) - Date.now()) / 3_600_000;
    assert.ok(hours > 23.9 && hours <= 24, `expires in ${hours} h`);
    const token = url.searchParams.get('token')!;
    const stored: { token_hash: Buffer }[] = await ds.query('SELECT token_hash FROM account_setup_tokens');
    assert.deepEqual(
      stored.map((r) => r.token_hash.toString('hex')),
      [createHash('sha256').update(token).digest('hex')],
      'only the hash is stored',
    );
    assert.equal((await signIn('ben@example.com', 'no password yet!')).status, 401);

    const { browser, page } = await setupForm(url.href);
    assert.equal(page.status, 200, page.body);
    assert.match(page.body, /ben@example\.com/);
    assert.equal(page.headers.get('x-frame-options'), 'DENY');
    assert.match(page.headers.get('content-security-policy')!, /frame-ancestors 'none'/);
    assert.equal(page.headers.get('cache-control'), 'no-store');
    assert.equal(page.headers.get('referrer-policy'), 'no-referrer');

    const password = 'bens new password';
    const forged = await browser.submit(page, /setup$/, { password, confirm: password, csrf: 'forged' });
    assert.equal(forged.status, 403);
    const differ = await browser.submit(page, /setup$/, { password, confirm: `${password}!` });
    assert.equal(differ.status, 400);
    assert.match(differ.body, /differ/);
    const short = await browser.submit(page, /setup$/, { password: 'short', confirm: 'short' });
    assert.equal(short.status, 400);
    assert.match(short.body, /at least 12/);
    const same = await browser.submit(page, /setup$/, {
      password: 'ben@example.com',
      confirm: 'ben@example.com',
    });
    assert.equal(same.status, 400);
    assert.equal((await browser.request(url)).status, 200, 'refusals do not spend the link');

    const set = await browser.submit(page, /setup$/, { password, confirm: password });
    assert.equal(set.status, 200, set.body);
    assert.match(set.body, /password is set/);
    assert.equal((await browser.request(url)).status, 400, 'used once');
    const again = await browser.submit(page, /setup$/, {
      password: 'another password',
      confirm: 'another password',
    });
    assert.equal(again.status, 400);
    assert.equal((await signIn('ben@example.com', 'another password')).status, 401);
    const ben = await signIn('ben@example.com', password);
    assert.equal(ben.status, 200, ben.body);
  });

  test('an expired or made-up link sets nothing', async () => {
    const created = await api(admin, 'POST', '/api/v1/users', { email: 'carl@example.com' });
    const { browser, page } = await setupForm(created.json.setupUrl);
    assert.equal(page.status, 200);
    await ds.query(
      "UPDATE account_setup_tokens SET expires_at = now() - interval '1 second' WHERE user_id = $1",
      [created.json.id],
    );
    assert.equal((await browser.request(created.json.setupUrl)).status, 400);
    const late = await browser.submit(page, /setup$/, {
      password: 'carls password',
      confirm: 'carls password',
    });
    assert.equal(late.status, 400);
    assert.match(late.body, /not valid/);
    const rows = await ds.query('SELECT password_hash FROM users WHERE id = $1', [created.json.id]);
    assert.equal(rows[0].password_hash, null);
    for (const bad of ['?token=', `?token=${'A'.repeat(43)}`, '?token=%3Cscript%3E', '']) {
      const res = await browser.request(`${publicUrl}/account/setup${bad}`);
      assert.equal(res.status, 400, bad);
    }
  });
});

describe('failed sign-ins', () => {
  test('are throttled per account, alike for accounts that exist and ones that do not', async () => {
    const password = 'doras password 1';
    assert.equal(
      (await api(admin, 'POST', '/api/v1/users', { email: 'dora@example.com', password })).status,
      201,
    );
    for (const email of ['dora@example.com', 'nobody@example.com']) {
      for (let i = 0; i < 5; i++) {
        const res = await signIn(email, 'wrong password!');
        assert.equal(res.status, 401, `${email} attempt ${i + 1}`);
        assert.match(res.body, /Wrong email or password\./);
      }
    }
    const dora = await signIn('dora@example.com', password);
    const nobody = await signIn('Nobody@example.com', password);
    for (const res of [dora, nobody]) {
      assert.equal(res.status, 429);
      assert.match(res.body, /Too many failed sign-ins/);
    }
    assert.equal((await api(dora.browser, 'GET', '/api/v1/me')).status, 401, 'not signed in');
    // Other accounts from the same address still sign in.
    assert.equal((await signIn('root@example.com', ROOT_PASSWORD)).status, 200);
  });
});
