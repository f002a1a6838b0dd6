/**
 * The admin API authorizes every route by role, on real Postgres: each role × each route, the
 * three ways to authenticate (bootstrap token, access token for the admin API, browser session),
 * roles granted through IdP groups, role bindings (owner only by an owner, never the last owner),
 * power users' own API keys, basic users' granted servers, and the audit read API, whose captured
 * bodies only the auditor sees.
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import type { ControlPlane } from '../src/app.ts';
import { AuditEventEntity, type AuditEventRow } from '../src/db/entities/audit-event.ts';
import type { Role } from '../src/identity/roles.ts';
import { loadSigningKeys, type SigningKeys } from '../src/keys/signing-keys.ts';
import { createBrowser } from './helpers/browser.ts';
import { ADMIN_TOKEN, type Replica, startListeningReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

type Who = Role | 'none';
const WHO: readonly Who[] = ['owner', 'admin', 'auditor', 'power_user', 'basic', 'none'];

let db: TestDb;
let replica: Replica;
let cp: ControlPlane;
let keys: SigningKeys;
let publicUrl = '';
const userIds = new Map<Who, string>();
const ADMIN_PASSWORD = 'correct horse battery staple';

async function accessToken(
  sub: string,
  claims: { aud?: string; scope?: string; iss?: string; exp?: number } = {},
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: claims.scope ?? 'admin', client_id: 'test-cli' })
    .setProtectedHeader({ alg: 'ES256', kid: keys.kid, typ: 'at+jwt' })
    .setIssuer(claims.iss ?? publicUrl)
    .setAudience(claims.aud ?? `${publicUrl}/api`)
    .setSubject(sub)
    .setIssuedAt(now)
    .setExpirationTime(claims.exp ?? now + 300)
    .sign(keys.privateKey);
}

async function call(
  who: Who | { bearer: string } | { cookie: string; origin?: string } | undefined,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  payload?: unknown,
) {
  const headers: Record<string, string> = {};
  if (payload !== undefined) headers['content-type'] = 'application/json';
  if (typeof who === 'string') headers.authorization = `Bearer ${await accessToken(userIds.get(who)!)}`;
  else if (who && 'bearer' in who) headers.authorization = `Bearer ${who.bearer}`;
  else if (who && 'cookie' in who) {
    headers.cookie = who.cookie;
    if (who.origin) headers.origin = who.origin;
  }
  return cp.publicApp.inject({
    method,
    url,
    headers,
    payload: payload === undefined ? undefined : JSON.stringify(payload),
  });
}

before(async () => {
  db = await startTestDb();
  const started = await startListeningReplica(db, {
    TESSERA_ADMIN_EMAIL: 'root@example.com',
    TESSERA_ADMIN_PASSWORD: ADMIN_PASSWORD,
  });
  ({ publicUrl } = started);
  replica = started;
  cp = replica.cp;
  keys = await loadSigningKeys(replica.ds, cp.secretBox);
  const users = cp.identity.users;
  for (const who of WHO) {
    // The admin holds the role through an IdP group, the others directly.
    const groups = who === 'admin' ? ['platform-admins'] : who === 'basic' ? ['eng'] : [];
    const u = await users.upsertExternal({
      idp: 'oidc',
      subject: who,
      email: `${who}@example.com`,
      name: who,
      groups,
    });
    userIds.set(who, u.id);
    if (who === 'admin') await users.bind({ kind: 'group', principal: 'platform-admins', role: 'admin' });
    else if (who !== 'none') await users.bind({ kind: 'user', principal: `${who}@example.com`, role: who });
  }
  for (const [name, grants] of [
    ['granted', { groups: ['eng'] }],
    ['private', { users: ['someone@example.com'] }],
  ] as const) {
    const res = await call({ bearer: ADMIN_TOKEN }, 'POST', '/api/v1/servers', {
      name,
      kind: 'http',
      url: 'http://127.0.0.1:9/mcp',
      resourceUri: `https://${name}.test/mcp`,
      grants,
    });
    assert.equal(res.statusCode, 201, res.body);
  }
});

after(async () => {
  await replica?.close();
  await db?.stop();
});

/** Every admin route with a request that is harmless whoever is allowed, and who is allowed. */
const MANAGERS: readonly Who[] = ['owner', 'admin'];
const ROUTES: Array<{
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  body?: unknown;
  allowed: readonly Who[];
}> = [
  { method: 'GET', url: '/api/v1/me', allowed: ['owner', 'admin', 'auditor', 'power_user', 'basic', 'none'] },
  { method: 'GET', url: '/api/v1/servers', allowed: ['owner', 'admin', 'auditor', 'power_user', 'basic'] },
  {
    method: 'GET',
    url: '/api/v1/servers/granted',
    allowed: ['owner', 'admin', 'auditor', 'power_user', 'basic'],
  },
  { method: 'POST', url: '/api/v1/servers', body: { name: 'Bad Name' }, allowed: MANAGERS },
  { method: 'PUT', url: '/api/v1/servers/granted/grants', body: { groups: ['eng'] }, allowed: MANAGERS },
  { method: 'PUT', url: '/api/v1/servers/granted/policy', body: { nonsense: 1 }, allowed: MANAGERS },
  { method: 'PUT', url: '/api/v1/servers/granted/credentials', body: {}, allowed: MANAGERS },
  { method: 'GET', url: '/api/v1/servers/granted/credentials', allowed: MANAGERS },
  { method: 'DELETE', url: '/api/v1/servers/granted/credentials?user=nobody@example.com', allowed: MANAGERS },
  {
    method: 'POST',
    url: '/api/v1/tokens',
    body: { user: 'x@example.com', server: 'granted' },
    allowed: MANAGERS,
  },
  { method: 'POST', url: '/api/v1/api-keys', body: {}, allowed: [...MANAGERS, 'power_user'] },
  { method: 'GET', url: '/api/v1/api-keys', allowed: [...MANAGERS, 'power_user'] },
  { method: 'DELETE', url: `/api/v1/api-keys/${randomUUID()}`, allowed: [...MANAGERS, 'power_user'] },
  { method: 'GET', url: '/api/v1/mesh/proxies', allowed: [...MANAGERS, 'auditor', 'power_user'] },
  { method: 'POST', url: '/api/v1/mesh/tokens', body: { server: 'granted' }, allowed: MANAGERS },
  { method: 'GET', url: '/api/v1/users', allowed: MANAGERS },
  { method: 'POST', url: '/api/v1/users', body: { email: 'not-an-email' }, allowed: MANAGERS },
  { method: 'DELETE', url: `/api/v1/users/${randomUUID()}`, allowed: MANAGERS },
  {
    method: 'POST',
    url: '/api/v1/me/password',
    body: {},
    allowed: ['owner', 'admin', 'auditor', 'power_user', 'basic', 'none'],
  },
  { method: 'GET', url: '/api/v1/role-bindings', allowed: MANAGERS },
  { method: 'POST', url: '/api/v1/role-bindings', body: { kind: 'user' }, allowed: MANAGERS },
  { method: 'DELETE', url: '/api/v1/role-bindings?kind=user', allowed: MANAGERS },
  { method: 'GET', url: '/api/v1/audit', allowed: [...MANAGERS, 'auditor'] },
];

describe('every role × every route', () => {
  for (const route of ROUTES) {
    test(`${route.method} ${route.url}`, async () => {
      for (const who of WHO) {
        const res = await call(who, route.method, route.url, route.body);
        if (route.allowed.includes(who)) {
          assert.ok(![401, 403].includes(res.statusCode), `${who} is allowed: ${res.statusCode} ${res.body}`);
        } else {
          assert.equal(res.statusCode, 403, `${who} is refused: ${res.body}`);
          assert.equal(res.json().error, 'TESSERA_PERMISSION_DENIED');
          assert.match(res.json().message, /needs the "\w+"( or "\w+")* permission/, res.body);
          assert.ok(res.json().message.includes(`${who}@example.com`), 'the message names the caller');
        }
        // The bootstrap token is the owner everywhere.
        const boot = await call({ bearer: ADMIN_TOKEN }, route.method, route.url, route.body);
        assert.ok(![401, 403].includes(boot.statusCode), `bootstrap token: ${boot.body}`);
        // Without credentials: 401 with a challenge, for every route.
        const anon = await call(undefined, route.method, route.url, route.body);
        assert.equal(anon.statusCode, 401);
        assert.match(String(anon.headers['www-authenticate']), /^Bearer /);
      }
    });
  }

  test('the message names the missing permission and the roles held', async () => {
    const res = await call('basic', 'GET', '/api/v1/audit');
    assert.equal(
      res.json().message,
      'GET /api/v1/audit needs the "read_audit" permission; basic@example.com holds the roles basic',
    );
    const none = await call('none', 'GET', '/api/v1/servers');
    assert.match(none.json().message, /holds no role$/);
  });
});

describe('credentials that do not admit', () => {
  test('bad bearer tokens are refused with 401 and say why', async () => {
    const root = userIds.get('owner')!;
    const mcpToken = (
      await call({ bearer: ADMIN_TOKEN }, 'POST', '/api/v1/tokens', {
        user: 'owner@example.com',
        server: 'granted',
      })
    ).json().access_token as string;
    const cases: Array<[string, RegExp]> = [
      ['not-a-token', /neither the admin token nor a valid access token/],
      [`${ADMIN_TOKEN}x`, /neither/],
      [mcpToken, /neither/], // for an MCP server, not for this API
      [await accessToken(root, { aud: 'https://granted.test/mcp' }), /neither/],
      [await accessToken(root, { iss: 'https://evil.example' }), /neither/],
      [await accessToken(root, { exp: Math.floor(Date.now() / 1000) - 60 }), /neither/],
      [await accessToken(root, { scope: 'mcp' }), /lacks the "admin" scope/],
      [await accessToken(randomUUID()), /no longer exists/],
      [await accessToken('owner@example.com'), /no longer exists/],
    ];
    for (const [token, message] of cases) {
      const res = await call({ bearer: token }, 'GET', '/api/v1/me');
      assert.equal(res.statusCode, 401, token);
      assert.match(res.json().message, message);
    }
    const basic = await cp.publicApp.inject({
      method: 'GET',
      url: '/api/v1/me',
      headers: { authorization: `Basic ${ADMIN_TOKEN}` },
    });
    assert.equal(basic.statusCode, 401);
    assert.match(basic.json().message, /must be "Bearer <token>"/);
  });

  test('roles are read at every request: a revoked binding stops working at once', async () => {
    await cp.identity.users.bind({ kind: 'user', principal: 'none@example.com', role: 'auditor' });
    assert.equal((await call('none', 'GET', '/api/v1/audit')).statusCode, 200);
    assert.equal(
      (
        await call(
          { bearer: ADMIN_TOKEN },
          'DELETE',
          '/api/v1/role-bindings?kind=user&principal=none@example.com&role=auditor',
        )
      ).statusCode,
      204,
    );
    assert.equal((await call('none', 'GET', '/api/v1/audit')).statusCode, 403);
  });
});

describe('users and role bindings', () => {
  test('/me tells who the caller is, with roles from groups', async () => {
    const me = (await call('admin', 'GET', '/api/v1/me')).json();
    assert.equal(me.email, 'admin@example.com');
    assert.equal(me.via, 'access-token');
    assert.deepEqual(me.roles, ['admin']);
    assert.deepEqual(me.groups, ['platform-admins']);
    assert.ok(me.permissions.includes('manage_identity') && !me.permissions.includes('read_audit_bodies'));
    const boot = (await call({ bearer: ADMIN_TOKEN }, 'GET', '/api/v1/me')).json();
    assert.deepEqual([boot.via, boot.email, boot.roles], ['bootstrap-token', 'root@example.com', ['owner']]);
  });

  test('users are listed by email with their roles, and paged', async () => {
    const all = (await call('admin', 'GET', '/api/v1/users?limit=500')).json();
    const byEmail = new Map(all.users.map((u: { email: string; roles: string[] }) => [u.email, u.roles]));
    assert.deepEqual(byEmail.get('admin@example.com'), ['admin']);
    assert.deepEqual(byEmail.get('auditor@example.com'), ['auditor']);
    assert.deepEqual(byEmail.get('root@example.com'), ['owner'], 'the local bootstrap account');
    const first = (await call('admin', 'GET', '/api/v1/users?limit=2')).json();
    assert.equal(first.users.length, 2);
    const second = (
      await call('admin', 'GET', `/api/v1/users?limit=2&after=${encodeURIComponent(first.nextAfter)}`)
    ).json();
    assert.equal(second.users[0].email, all.users[2].email);
    for (const q of ['limit=0', 'limit=501', 'limit=x']) {
      assert.equal((await call('admin', 'GET', `/api/v1/users?${q}`)).statusCode, 400, q);
    }
  });

  test('bad bindings are refused and change nothing', async () => {
    const before = (await call('owner', 'GET', '/api/v1/role-bindings')).json().roleBindings;
    const cases: Array<[unknown, RegExp]> = [
      [[], /role binding must be/],
      [{ kind: 'team', principal: 'x', role: 'admin' }, /"kind"/],
      [{ kind: 'user', principal: 'not-an-email', role: 'admin' }, /email address/],
      [{ kind: 'group', principal: '', role: 'admin' }, /group name/],
      [{ kind: 'group', principal: ' eng', role: 'admin' }, /group name/],
      [{ kind: 'group', principal: 'a\nb', role: 'admin' }, /group name/],
      [{ kind: 'group', principal: 'x'.repeat(257), role: 'admin' }, /group name/],
      [{ kind: 'group', principal: 'eng', role: 'superuser' }, /"role" must be one of/],
      [{ kind: 'group', principal: 'eng', role: 'admin', extra: 1 }, /unknown field "extra"/],
    ];
    for (const [body, message] of cases) {
      const res = await call('owner', 'POST', '/api/v1/role-bindings', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.match(res.json().message, message);
    }
    const missing = await call(
      'owner',
      'DELETE',
      '/api/v1/role-bindings?kind=group&principal=nobody&role=basic',
    );
    assert.equal(missing.statusCode, 404);
    assert.deepEqual((await call('owner', 'GET', '/api/v1/role-bindings')).json().roleBindings, before);
  });

  test('a group binding grants the role to its members; revoking it takes it away', async () => {
    assert.equal((await call('basic', 'GET', '/api/v1/mesh/proxies')).statusCode, 403);
    const grant = await call('admin', 'POST', '/api/v1/role-bindings', {
      kind: 'group',
      principal: 'eng',
      role: 'power_user',
    });
    assert.equal(grant.statusCode, 201);
    assert.equal(
      (
        await call('admin', 'POST', '/api/v1/role-bindings', {
          kind: 'group',
          principal: 'eng',
          role: 'power_user',
        })
      ).statusCode,
      200,
      'idempotent',
    );
    assert.deepEqual((await call('basic', 'GET', '/api/v1/me')).json().roles, ['power_user', 'basic']);
    assert.equal((await call('basic', 'GET', '/api/v1/mesh/proxies')).statusCode, 200);
    const revoke = await call(
      'admin',
      'DELETE',
      '/api/v1/role-bindings?kind=group&principal=eng&role=power_user',
    );
    assert.equal(revoke.statusCode, 204);
    assert.equal((await call('basic', 'GET', '/api/v1/mesh/proxies')).statusCode, 403);
  });

  test('only an owner grants or revokes owner, and the last owner stays', async () => {
    const make = { kind: 'user', principal: 'admin@example.com', role: 'owner' };
    const byAdmin = await call('admin', 'POST', '/api/v1/role-bindings', make);
    assert.equal(byAdmin.statusCode, 403);
    assert.match(byAdmin.json().message, /only an owner/);
    const removeByAdmin = await call(
      'admin',
      'DELETE',
      '/api/v1/role-bindings?kind=user&principal=owner@example.com&role=owner',
    );
    assert.equal(removeByAdmin.statusCode, 403);
    // Owners now: root@ (bootstrap) and owner@. Remove root@, then owner@ is the last.
    const del = (p: string) =>
      call('owner', 'DELETE', `/api/v1/role-bindings?kind=user&principal=${p}&role=owner`);
    assert.equal((await del('root@example.com')).statusCode, 204);
    const last = await del('owner@example.com');
    assert.equal(last.statusCode, 409);
    assert.match(last.json().message, /last owner/);
    assert.deepEqual((await call('owner', 'GET', '/api/v1/me')).json().roles, ['owner'], 'still an owner');
    assert.equal(
      (await call('owner', 'POST', '/api/v1/role-bindings', { ...make, principal: 'root@example.com' }))
        .statusCode,
      201,
    );
    // Both owner bindings removed at the same time (by the bootstrap token, which stays an owner
    // whatever happens to the bindings): one removal wins, one owner binding remains.
    const boot = (p: string) =>
      call({ bearer: ADMIN_TOKEN }, 'DELETE', `/api/v1/role-bindings?kind=user&principal=${p}&role=owner`);
    const results = await Promise.all([boot('root@example.com'), boot('owner@example.com')]);
    assert.deepEqual(results.map((r) => r.statusCode).sort(), [204, 409]);
    const owners = (await call({ bearer: ADMIN_TOKEN }, 'GET', '/api/v1/role-bindings'))
      .json()
      .roleBindings.filter((b: { role: string }) => b.role === 'owner');
    assert.equal(owners.length, 1);
    for (const principal of ['root@example.com', 'owner@example.com'])
      await cp.identity.users.bind({ kind: 'user', principal, role: 'owner' });
  });
});

describe('narrowed answers', () => {
  test('a basic user sees only the servers granted to them, without their setup', async () => {
    const list = (await call('basic', 'GET', '/api/v1/servers')).json().servers;
    assert.deepEqual(list, [{ name: 'granted', kind: 'http', resourceUri: 'https://granted.test/mcp' }]);
    assert.equal((await call('basic', 'GET', '/api/v1/servers/private')).statusCode, 404);
    const full = (await call('auditor', 'GET', '/api/v1/servers')).json().servers;
    assert.equal(full.length, 2);
    assert.ok('policy' in full[0], 'read_catalog sees the whole entry');
  });

  test('a power user manages their own API keys only, with their own groups only', async () => {
    const mine = { name: 'laptop', user: 'power_user@example.com', servers: ['granted'] };
    const other = await call('power_user', 'POST', '/api/v1/api-keys', {
      ...mine,
      user: 'owner@example.com',
    });
    assert.equal(other.statusCode, 403);
    assert.match(other.json().message, /for yourself/);
    const groups = await call('power_user', 'POST', '/api/v1/api-keys', {
      ...mine,
      groups: ['platform-admins'],
    });
    assert.equal(groups.statusCode, 403);
    assert.match(groups.json().message, /not in "platform-admins"/);
    const created = await call('power_user', 'POST', '/api/v1/api-keys', {
      ...mine,
      user: 'Power_User@example.com',
    });
    assert.equal(created.statusCode, 201, created.body);
    const ownerKey = (
      await call('owner', 'POST', '/api/v1/api-keys', { ...mine, user: 'owner@example.com' })
    ).json();
    const listed = (await call('power_user', 'GET', '/api/v1/api-keys')).json().apiKeys;
    assert.deepEqual(
      listed.map((k: { id: string }) => k.id),
      [created.json().id],
    );
    assert.equal(
      (await call('power_user', 'GET', '/api/v1/api-keys?user=owner@example.com')).statusCode,
      403,
    );
    assert.equal((await call('power_user', 'DELETE', `/api/v1/api-keys/${ownerKey.id}`)).statusCode, 404);
    assert.equal(
      (await call('owner', 'GET', '/api/v1/api-keys'))
        .json()
        .apiKeys.find((k: { id: string }) => k.id === ownerKey.id).status,
      'active',
    );
    assert.equal(
      (await call('power_user', 'DELETE', `/api/v1/api-keys/${created.json().id}`)).json().status,
      'revoked',
    );
  });
});

function event(over: Partial<AuditEventRow>): Partial<AuditEventRow> {
  return {
    eventId: randomUUID(),
    time: new Date(),
    batchId: randomUUID(),
    proxyId: 'p1',
    server: 'granted',
    userName: 'basic@example.com',
    method: 'tools/call',
    target: 'echo',
    outcome: 'ok',
    httpStatus: 200,
    errorCode: 0,
    latencyUs: '1000',
    requestBytes: '10',
    responseBytes: '20',
    sessionId: '',
    reason: '',
    requestId: '1',
    decision: 'allow',
    requestBody: '{"secret":"request body"}',
    responseBody: '{"secret":"response body"}',
    bodiesTruncated: false,
    ...over,
  };
}

describe('audit read API', () => {
  const base = Date.parse('2026-03-01T00:00:00Z');
  before(async () => {
    const repo = replica.ds.getRepository(AuditEventEntity);
    const rows = [];
    for (let i = 0; i < 25; i++) {
      rows.push(
        event({
          time: new Date(base + Math.floor(i / 2) * 1000), // pairs share a time: the cursor must break ties
          outcome: i % 5 === 0 ? 'denied' : 'ok',
          decision: i % 5 === 0 ? 'deny' : 'allow',
          userName: i % 2 ? 'basic@example.com' : 'power_user@example.com',
          server: i < 20 ? 'granted' : 'private',
          traceId: i === 7 ? '4bf92f3577b34da6a3ce929d0e0e4736' : '',
        }),
      );
    }
    await repo.insert(rows);
  });

  test('the auditor sees captured bodies; owner and admin get the events without them', async () => {
    const audited = (await call('auditor', 'GET', '/api/v1/audit?limit=1')).json();
    assert.equal(audited.bodies, 'included');
    assert.equal(audited.events[0].requestBody, '{"secret":"request body"}');
    assert.equal(audited.events[0].responseBody, '{"secret":"response body"}');
    for (const who of ['owner', 'admin'] as const) {
      const res = await call(who, 'GET', '/api/v1/audit?limit=5');
      assert.equal(res.statusCode, 200);
      const body = res.json();
      assert.equal(body.bodies, 'redacted', who);
      assert.equal(body.events.length, 5);
      assert.ok(!res.body.includes('secret'), `${who} sees no body`);
      assert.ok(body.events.every((e: object) => !('requestBody' in e) && !('responseBody' in e)));
      assert.equal(body.events[0].server, audited.events[0].server);
    }
    const boot = await call({ bearer: ADMIN_TOKEN }, 'GET', '/api/v1/audit');
    assert.ok(!boot.body.includes('secret'), 'the bootstrap token is an owner, not an auditor');
  });

  test('filters narrow, and the cursor pages through everything exactly once, newest first', async () => {
    const q = (s: string) => call('auditor', 'GET', `/api/v1/audit?${s}`).then((r) => r.json());
    assert.equal((await q('server=private')).events.length, 5);
    assert.equal((await q('outcome=denied')).events.length, 5);
    assert.equal((await q('decision=deny&server=granted')).events.length, 4);
    assert.equal((await q('user=basic@example.com')).events.length, 12);
    const traced = (await q('traceId=4bf92f3577b34da6a3ce929d0e0e4736')).events;
    assert.equal(traced.length, 1);
    const since = new Date(base + 10_000).toISOString();
    const until = new Date(base + 12_000).toISOString();
    assert.equal(
      (await q(`since=${since}&until=${until}`)).events.length,
      4,
      'since inclusive, until exclusive',
    );
    const seen: string[] = [];
    let cursor = '';
    let pages = 0;
    do {
      const page = await q(`server=granted&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.events.map((e: { eventId: string }) => e.eventId));
      const times = page.events.map((e: { time: string }) => Date.parse(e.time));
      assert.deepEqual(
        times,
        [...times].sort((a, b) => b - a),
        'newest first',
      );
      cursor = page.nextCursor ?? '';
      pages++;
    } while (cursor && pages < 10);
    assert.equal(pages, 3);
    assert.equal(seen.length, 20);
    assert.equal(new Set(seen).size, 20, 'no event twice');
  });

  test('bad queries are refused with the parameter named', async () => {
    const cases: Array<[string, RegExp]> = [
      ['limit=0', /"limit"/],
      ['limit=1001', /"limit"/],
      ['limit=2.5', /"limit"/],
      ['since=yesterday', /"since" must be an RFC 3339 time/],
      ['since=2026-03-02T00:00:00Z&until=2026-03-01T00:00:00Z', /"since" must not be after "until"/],
      ['cursor=bm90IGEgY3Vyc29y', /"cursor"/],
      ['server=a&server=b', /"server" must be given once/],
      ['verbose=1', /unknown parameter "verbose"/],
      [`user=${'x'.repeat(513)}`, /1 to 512/],
    ];
    for (const [query, message] of cases) {
      const res = await call('auditor', 'GET', `/api/v1/audit?${query}`);
      assert.equal(res.statusCode, 400, query);
      assert.match(res.json().message, message);
    }
  });
});

describe('browser sessions and access tokens from the authorization server', () => {
  const browser = createBrowser();
  const REDIRECT = 'http://127.0.0.1:1/callback';
  let clientId = '';
  let code = '';
  const verifier = 'v'.repeat(64);

  test('a local sign-in gives a session that the admin API accepts; changes need the Origin', async () => {
    const reg = await fetch(`${publicUrl}/oauth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        redirect_uris: [REDIRECT],
        token_endpoint_auth_method: 'none',
        client_name: 'cli',
      }),
    });
    assert.equal(reg.status, 201);
    clientId = ((await reg.json()) as { client_id: string }).client_id;
    const authorize = new URL(`${publicUrl}/oauth/authorize`);
    for (const [k, v] of Object.entries({
      client_id: clientId,
      redirect_uri: REDIRECT,
      response_type: 'code',
      scope: 'openid admin',
      resource: `${publicUrl}/api`,
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
    }))
      authorize.searchParams.set(k, v);
    const stop = (u: URL) => u.href.startsWith(REDIRECT);
    let { page } = await browser.follow(await browser.request(authorize), stop);
    assert.equal(page.status, 200, page.body);
    page = await browser.submit(page, /login$/, { email: 'root@example.com', password: ADMIN_PASSWORD });
    let next = await browser.follow(page, stop);
    assert.match(next.page.body, /Allow access\?/);
    const cookie = browser.cookieHeader(`${publicUrl}/api/v1/me`);
    assert.match(cookie, /tessera_oauth_session=/);

    const me = await call({ cookie }, 'GET', '/api/v1/me');
    assert.equal(me.statusCode, 200, me.body);
    assert.deepEqual(
      [me.json().via, me.json().email, me.json().roles],
      ['session', 'root@example.com', ['owner']],
    );
    const binding = { kind: 'group', principal: 'session-made', role: 'basic' };
    const forged = await call({ cookie }, 'POST', '/api/v1/role-bindings', binding);
    assert.equal(forged.statusCode, 403);
    assert.match(forged.json().message, /must come from http:\/\/127\.0\.0\.1:\d+ \(Origin header\)/);
    const crossSite = await call(
      { cookie, origin: 'https://evil.example' },
      'POST',
      '/api/v1/role-bindings',
      binding,
    );
    assert.equal(crossSite.statusCode, 403);
    const sameSite = await call({ cookie, origin: publicUrl }, 'POST', '/api/v1/role-bindings', binding);
    assert.equal(sameSite.statusCode, 201, sameSite.body);
    const tampered = await call(
      { cookie: cookie.replace(/(tessera_oauth_session=)[^;]+/, '$1forged') },
      'GET',
      '/api/v1/me',
    );
    assert.equal(tampered.statusCode, 401);

    page = await browser.submit(next.page, /consent$/, {}, { name: 'decision', value: 'allow' });
    next = await browser.follow(page, stop);
    code = next.stoppedAt?.searchParams.get('code') ?? '';
    assert.ok(code, next.page.body);
  });

  test('an access token issued for the admin API (resource <public URL>/api, scope admin) is accepted', async () => {
    const res = await fetch(`${publicUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT,
        client_id: clientId,
        code_verifier: verifier,
        resource: `${publicUrl}/api`,
      }).toString(),
    });
    const body = (await res.json()) as { access_token: string; scope?: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    const me = await call({ bearer: body.access_token }, 'GET', '/api/v1/me');
    assert.equal(me.statusCode, 200, me.body);
    assert.deepEqual([me.json().via, me.json().email], ['access-token', 'root@example.com']);
    // The same token is no good at an MCP server's proxy: its audience is the admin API only.
    const payload = JSON.parse(Buffer.from(body.access_token.split('.')[1]!, 'base64url').toString());
    assert.equal(payload.aud, `${publicUrl}/api`);
  });
});
