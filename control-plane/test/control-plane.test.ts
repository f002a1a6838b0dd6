/**
 * The control plane against a real PostgreSQL: the admin API (good and bad input), the discovery
 * stream over real HTTP/2 Connect (authentication, subscription, ACK/NACK, pushes on change) and
 * idempotent audit ingestion.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { anyUnpack, timestampNow } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { AuditEventSchema } from '@tessera/api/mesh/v1/audit';
import { ServerPolicySchema } from '@tessera/api/mesh/v1/config';
import { type DiscoveryResponse, StatusSchema } from '@tessera/api/mesh/v1/discovery';
import { badConditions } from '@tessera/api/test/bad-conditions';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { DataSource } from 'typeorm';
import type { ControlPlane } from '../src/app.ts';
import { openDataSource } from '../src/db/data-source.ts';
import { meshClients, openStream, TYPE_URLS } from './helpers/mesh-client.ts';
import { ADMIN_TOKEN as ADMIN, MESH_SECRET as MESH, type Replica, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

let db: TestDb;
let replica: Replica;
let ds: DataSource;
let cp: ControlPlane;
let meshUrl: string;

before(async () => {
  db = await startTestDb();
  replica = await startReplica(db, { TESSERA_PUBLIC_URL: 'https://tessera.example.com' });
  ({ ds, cp, meshUrl } = replica);
});

after(async () => {
  await replica?.close();
  await db?.stop();
});

function admin(method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown, token = ADMIN) {
  return cp.publicApp.inject({
    method,
    url,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    payload:
      typeof payload === 'string' ? payload : payload === undefined ? undefined : JSON.stringify(payload),
  });
}

const github = {
  name: 'github',
  kind: 'http',
  url: 'http://127.0.0.1:9/mcp',
  resourceUri: 'https://github.mcp.example.com/mcp',
  grants: { users: ['alice@example.com'], groups: ['eng'] },
};

describe('migrations', () => {
  test('run once and are recorded; reopening runs nothing again', async () => {
    const again = await openDataSource(db.url);
    const rows: Array<{ name: string }> = await again.query(
      'SELECT name FROM tessera_migrations ORDER BY id',
    );
    await again.destroy();
    assert.deepEqual(
      rows.map((r) => r.name),
      [
        'InitialSchema1764000000000',
        'AuditTraceId1764100000000',
        'ServerPolicyAuditDecisions1764200000000',
        'ApiKeys1764300000000',
        'UpstreamCredentials1764300100000',
        'Identity1764310000000',
        'UpstreamOauth1764320000000',
        'AuditTimeIndex1764320500000',
        'MeshStatus1764330000000',
        'FilterSecrets1764340000000',
        'AccountSetupTokens1764350000000',
        'SseServers1764360000000',
      ],
    );
  });

  test('the schema takes an sse server with a URL, and refuses one without, or another kind', async () => {
    const ds = await openDataSource(db.url);
    const q = ds.createQueryRunner();
    await q.startTransaction();
    try {
      const insert = (name: string, kind: string, url: string | null) =>
        q.query(`INSERT INTO mcp_servers (name, kind, url, resource_uri) VALUES ($1, $2, $3, $4)`, [
          name,
          kind,
          url,
          `http://127.0.0.1:1/${name}`,
        ]);
      await insert('legacy', 'sse', 'http://127.0.0.1:3001/sse');
      await q.query('SAVEPOINT s');
      await assert.rejects(insert('no-url', 'sse', null), /violates check constraint "mcp_servers_upstream"/);
      await q.query('ROLLBACK TO SAVEPOINT s');
      await assert.rejects(
        insert('ws', 'websocket', 'http://x/'),
        /violates check constraint "mcp_servers_kind"/,
      );
    } finally {
      await q.rollbackTransaction();
      await q.release();
      await ds.destroy();
    }
  });
});

describe('admin API', () => {
  test('requires the admin token', async () => {
    const none = await cp.publicApp.inject({ method: 'GET', url: '/api/v1/servers' });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().error, 'TESSERA_UNAUTHENTICATED');
    const wrong = await admin('GET', '/api/v1/servers', undefined, 'b'.repeat(40));
    assert.equal(wrong.statusCode, 401);
  });

  test('rejects bad registrations and stores nothing', async () => {
    const malformed = await admin('POST', '/api/v1/servers', '{"name":');
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().error, 'TESSERA_INVALID_ARGUMENT');
    const badName = await admin('POST', '/api/v1/servers', { ...github, name: 'Not_A_Label' });
    assert.equal(badName.statusCode, 400);
    assert.match(badName.json().message, /"name" must be a DNS label/);
    const badUrl = await admin('POST', '/api/v1/servers', { ...github, url: 'ftp://x' });
    assert.equal(badUrl.statusCode, 400);
    assert.match(badUrl.json().message, /"url" must be http or https/);
    const extra = await admin('POST', '/api/v1/servers', { ...github, shell: 'rm -rf /' });
    assert.match(extra.json().message, /unknown field "shell"/);
    assert.deepEqual((await admin('GET', '/api/v1/servers')).json().servers, []);
  });

  test('registers a server once; a duplicate is a conflict', async () => {
    const created = await admin('POST', '/api/v1/servers', github);
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual(created.json().grants, { users: ['alice@example.com'], groups: ['eng'] });
    const dup = await admin('POST', '/api/v1/servers', github);
    assert.equal(dup.statusCode, 409);
    assert.equal(dup.json().error, 'TESSERA_CONFLICT');
    const list = (await admin('GET', '/api/v1/servers')).json().servers;
    assert.deepEqual(
      list.map((s: { name: string }) => s.name),
      ['github'],
    );
    assert.equal((await admin('GET', '/api/v1/servers/nope')).statusCode, 404);
  });

  test('mints a token bound to the server, and refuses unknown servers and bad input', async () => {
    const res = await admin('POST', '/api/v1/tokens', {
      user: 'alice@example.com',
      server: 'github',
      groups: ['eng'],
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    const keys = (await ds.query('SELECT public_jwk FROM signing_keys')) as Array<{ public_jwk: object }>;
    const { payload, protectedHeader } = await jwtVerify(
      body.access_token,
      createLocalJWKSet({ keys: keys.map((k) => k.public_jwk) }),
      {
        issuer: 'https://tessera.example.com',
        audience: 'https://github.mcp.example.com/mcp',
      },
    );
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(payload.sub, 'alice@example.com');
    assert.deepEqual(payload.groups, ['eng']);
    assert.equal(body.resource, 'https://github.mcp.example.com/mcp');

    assert.equal(
      (await admin('POST', '/api/v1/tokens', { user: 'alice@example.com', server: 'nope' })).statusCode,
      404,
    );
    const bad = await admin('POST', '/api/v1/tokens', { user: 'alice', server: 'github' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /"user" must be an email address/);
    assert.equal(
      (await admin('POST', '/api/v1/tokens', { user: 'a@b.c', server: 'github', groups: 'eng' })).statusCode,
      400,
    );
  });

  test('grants: unknown server 404, bad body 400 and unchanged', async () => {
    assert.equal((await admin('PUT', '/api/v1/servers/nope/grants', { users: [] })).statusCode, 404);
    assert.equal((await admin('PUT', '/api/v1/servers/github/grants', { users: [''] })).statusCode, 400);
    const s = (await admin('GET', '/api/v1/servers/github')).json();
    assert.deepEqual(s.grants.users, ['alice@example.com']);
  });
});

const clients = (token = MESH) => meshClients(meshUrl, token);
const stream = (token = MESH) => openStream(meshUrl, token);

const types = TYPE_URLS;
const node = { id: 'test-proxy-1', mcpServer: 'github', role: 'sidecar' };

async function expectCode(p: Promise<unknown>, code: Code) {
  await assert.rejects(p, (err: unknown) => ConnectError.from(err).code === code);
}

describe('discovery stream', () => {
  test('refuses a wrong mesh token, a missing node and an unknown server', async () => {
    const wrong = stream('x'.repeat(40));
    wrong.send({ node, typeUrl: types[0]! });
    await expectCode(wrong.next(), Code.Unauthenticated);
    wrong.close();
    const noNode = stream();
    noNode.send({ typeUrl: types[0]! });
    await expectCode(noNode.next(), Code.InvalidArgument);
    noNode.close();
    const unknown = stream();
    unknown.send({ node: { ...node, mcpServer: 'nope' }, typeUrl: types[0]! });
    await expectCode(unknown.next(), Code.NotFound);
    unknown.close();
  });

  test('sends each type in order, tracks ACK and NACK, and pushes only what changed', async () => {
    const s = stream();
    for (const [i, typeUrl] of types.entries()) s.send({ node: i === 0 ? node : undefined, typeUrl });
    const first: DiscoveryResponse[] = [];
    for (let i = 0; i < 4; i++) first.push(await s.next());
    assert.deepEqual(
      first.map((r) => r.typeUrl),
      types,
    );
    assert.equal(new Set(first.map((r) => r.nonce)).size, 4, 'nonces are unique');
    assert.ok(first.every((r) => r.controlPlaneId === cp.id));
    for (const r of first.slice(0, 3))
      s.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce });
    const audit = first[3]!;
    s.send({
      typeUrl: audit.typeUrl,
      versionInfo: '',
      responseNonce: audit.nonce,
      errorDetail: create(StatusSchema, {
        code: Code.InvalidArgument,
        message: 'batch_max_events too large',
      }),
    });

    const status = async () => {
      for (let i = 0; i < 50; i++) {
        const proxies = (await admin('GET', '/api/v1/mesh/proxies')).json().proxies as Array<{
          nodeId: string;
          types: Array<{ typeUrl: string; state: string; error: string }>;
        }>;
        const p = proxies.find((x) => x.nodeId === node.id);
        const states = Object.fromEntries((p?.types ?? []).map((t) => [t.typeUrl.split('.').pop(), t]));
        if (states.AuditSettings?.state === 'NACKED' && states.ServerPolicy?.state !== 'STALE') return states;
        await new Promise((r) => setTimeout(r, 20));
      }
      throw new Error('status never settled');
    };
    const st = await status();
    assert.equal(st.TrustBundle!.state, 'SYNCED');
    assert.equal(st.ServerPolicy!.state, 'SYNCED');
    assert.equal(st.AuditSettings!.state, 'NACKED');
    assert.equal(st.AuditSettings!.error, 'batch_max_events too large');

    // A grant change reaches the proxy as a new policy, and nothing else is resent.
    const put = await admin('PUT', '/api/v1/servers/github/grants', { users: ['bob@example.com'] });
    assert.equal(put.statusCode, 200);
    const pushed = await s.next();
    assert.equal(pushed.typeUrl, types[2]);
    assert.notEqual(pushed.versionInfo, first[2]!.versionInfo);
    s.close();
  });

  test('a reconnecting proxy that holds the current versions is sent nothing', async () => {
    const a = stream();
    for (const [i, typeUrl] of types.entries())
      a.send({ node: i === 0 ? { ...node, id: 'p2' } : undefined, typeUrl });
    const got: DiscoveryResponse[] = [];
    for (let i = 0; i < 4; i++) got.push(await a.next());
    a.close();
    const b = stream();
    for (const [i, r] of got.entries()) {
      b.send({
        node: i === 0 ? { ...node, id: 'p2' } : undefined,
        typeUrl: r.typeUrl,
        versionInfo: r.versionInfo,
      });
    }
    // Ask for an unheld type last: the first response must be for it, proving the others were skipped.
    b.send({ typeUrl: types[0]!, versionInfo: 'stale' });
    const r = await b.next();
    assert.equal(r.typeUrl, types[0]);
    b.close();
  });
});

describe('mesh identity', () => {
  async function proxyToken(server: string): Promise<string> {
    const res = await admin('POST', '/api/v1/mesh/tokens', { server });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().token;
  }

  test('a proxy token serves its own server and is refused for another (PERMISSION_DENIED)', async () => {
    const token = await proxyToken('github');
    assert.match(token, /^tpx1\.github\./);
    const own = stream(token);
    own.send({ node: { ...node, id: 'p-own' }, typeUrl: types[0]! });
    assert.equal((await own.next()).typeUrl, types[0]);
    own.close();
    const other = await admin('POST', '/api/v1/servers', {
      ...github,
      name: 'other',
      resourceUri: 'https://other.mcp.test/mcp',
    });
    assert.equal(other.statusCode, 201);
    const foreign = stream(await proxyToken('other'));
    foreign.send({ node: { ...node, id: 'p-foreign' }, typeUrl: types[0]! });
    await expectCode(foreign.next(), Code.PermissionDenied);
    foreign.close();
  });

  test('a forged proxy token is unauthenticated', async () => {
    const token = await proxyToken('github');
    const forged = `${token.slice(0, -4)}AAAA`;
    const s = stream(forged);
    s.send({ node, typeUrl: types[0]! });
    await expectCode(s.next(), Code.Unauthenticated);
    s.close();
    const renamed = stream(token.replace('tpx1.github.', 'tpx1.other.'));
    renamed.send({ node: { ...node, mcpServer: 'other' }, typeUrl: types[0]! });
    await expectCode(renamed.next(), Code.Unauthenticated);
    renamed.close();
  });

  test('mesh tokens: unknown server 404, bad body 400', async () => {
    assert.equal((await admin('POST', '/api/v1/mesh/tokens', { server: 'nope' })).statusCode, 404);
    assert.equal(
      (await admin('POST', '/api/v1/mesh/tokens', { server: 'github', extra: 1 })).statusCode,
      400,
    );
    assert.equal((await admin('POST', '/api/v1/mesh/tokens', { server: 'Not A Name' })).statusCode, 400);
  });
});

describe('audit ingestion', () => {
  const event = (over: Record<string, unknown> = {}) =>
    create(AuditEventSchema, {
      eventId: randomUUID(),
      time: timestampNow(),
      proxyId: 'p1',
      server: 'github',
      user: 'alice@example.com',
      method: 'tools/call',
      target: 'search',
      outcome: 'ok',
      httpStatus: 200,
      latencyUs: 1234n,
      requestBytes: 100n,
      responseBytes: 200n,
      ...over,
    });
  const count = async () => Number((await ds.query('SELECT count(*) AS n FROM audit_events'))[0].n);

  test('stores a batch once, even when it is retried', async () => {
    const before = await count();
    const req = { batchId: randomUUID(), events: [event(), event({ outcome: 'denied', httpStatus: 403 })] };
    assert.equal((await clients().audit.ingest(req)).stored, 2);
    assert.equal((await clients().audit.ingest(req)).stored, 0);
    assert.equal(await count(), before + 2);
  });

  test('rejects an invalid batch whole and stores nothing', async () => {
    const before = await count();
    await expectCode(
      clients().audit.ingest({ batchId: randomUUID(), events: [event(), event({ outcome: 'maybe' })] }),
      Code.InvalidArgument,
    );
    await expectCode(
      clients().audit.ingest({ batchId: 'not-a-uuid', events: [event()] }),
      Code.InvalidArgument,
    );
    await expectCode(
      clients().audit.ingest({ batchId: randomUUID(), events: [event({ eventId: 'x' })] }),
      Code.InvalidArgument,
    );
    await expectCode(
      clients('y'.repeat(40)).audit.ingest({ batchId: randomUUID(), events: [event()] }),
      Code.Unauthenticated,
    );
    assert.equal(await count(), before);
  });
});

describe('server policy API', () => {
  const policy = {
    rules: [
      { id: 'no-delete', effect: 'DENY', targets: ['delete_*'] },
      {
        id: 'eng-tools',
        effect: 'ALLOW',
        principals: { groups: ['eng'], claims: [{ claim: 'department', values: ['research'] }] },
        methods: ['tools/*'],
        condition: 'args.path.startsWith("/tmp/")',
      },
    ],
    rateLimits: { perUser: { capacity: 20, refillPerSecond: 2 } },
    filters: [
      {
        name: 'dlp',
        url: 'http://127.0.0.1:9/hook',
        phase: 'request',
        hmacSecret: 'k'.repeat(32),
        mayMutate: true,
      },
    ],
    auditBodies: { enabled: true, maxBytes: 2048 },
  };

  test('stores a valid policy, hides filter secrets and pushes it to the proxies', async () => {
    const s = stream();
    s.send({ node: { ...node, id: 'policy-proxy' }, typeUrl: types[2]! });
    const first = await s.next();
    const put = await admin('PUT', '/api/v1/servers/github/policy', policy);
    assert.equal(put.statusCode, 200, put.body);
    const view = put.json().policy;
    assert.equal(view.filters[0].hmacSecret, '(set)');
    assert.equal(view.filters[0].timeoutMs, 2000);
    assert.equal(view.rules[1].condition, 'args.path.startsWith("/tmp/")');
    // At rest the secret is sealed apart (filter-secrets.test.ts); the proxies still get it.
    const [row] = await ds.query("SELECT policy FROM mcp_servers WHERE name = 'github'");
    assert.equal(row.policy.filters[0].hmacSecret, undefined);
    s.send({ typeUrl: first.typeUrl, versionInfo: first.versionInfo, responseNonce: first.nonce });
    const pushed = await s.next();
    assert.equal(pushed.typeUrl, types[2]);
    const p = anyUnpack(pushed.resources[0]!.resource!, ServerPolicySchema)!;
    assert.deepEqual(
      p.rules.map((r) => r.id),
      ['no-delete', 'eng-tools'],
    );
    assert.equal(p.filters[0]!.hmacSecret, 'k'.repeat(32));
    assert.equal(p.rateLimits?.perUser?.capacity, 20);
    s.close();
  });

  test('bad policies get 400 naming the problem and change nothing', async () => {
    const before = (await admin('GET', '/api/v1/servers/github')).json().policy;
    const cases: Array<[unknown, RegExp]> = [
      [
        { rules: [{ id: 'x', effect: 'ALLOW', condition: 'args.a ==' }] },
        /rule "x": "condition" is not accepted: does not parse/,
      ],
      // The proxy's limits, from the table the proxy's own tests run too.
      ...badConditions.map(({ condition, error }): [unknown, RegExp] => [
        { rules: [{ id: 'cel', effect: 'ALLOW', condition }] },
        new RegExp(
          `rule "cel": "condition" (is not accepted: .*${error.source}|must be a CEL expression of at most)`,
        ),
      ]),
      [{ rules: [{ id: 'x', effect: 'PERMIT' }] }, /rule "x": "effect" must be "ALLOW" or "DENY"/],
      [
        {
          rules: [
            { id: 'x', effect: 'ALLOW' },
            { id: 'x', effect: 'DENY' },
          ],
        },
        /rule "x" is defined twice/,
      ],
      [{ rules: [{ id: 'x', effect: 'ALLOW', extra: 1 }] }, /unknown field "rules\[0\].extra"/],
      [{ rateLimits: { perUser: { capacity: 0, refillPerSecond: 1 } } }, /rateLimits.perUser.capacity/],
      [
        { rateLimits: { perTool: { capacity: 1, refillPerSecond: -1 } } },
        /rateLimits.perTool.refillPerSecond/,
      ],
      [{ filters: [{ ...policy.filters[0], hmacSecret: 'short' }] }, /"hmacSecret" must be a string of 16/],
      [{ filters: [{ ...policy.filters[0], phase: 'both' }] }, /"phase" must be "request" or "response"/],
      [{ filters: [{ ...policy.filters[0], url: 'file:///etc/passwd' }] }, /"url" must be http or https/],
      [
        { filters: [{ ...policy.filters[0], url: 'https://u:p@dlp.example/' }] },
        /"url" must not carry credentials/,
      ],
      [
        { filters: [{ ...policy.filters[0], url: `https://dlp.example/${'a'.repeat(2048)}` }] },
        /"url" must be a string of at most 2048 characters/,
      ],
      [{ filters: [{ ...policy.filters[0], url: 42 }] }, /"url" must be a string/],
      [{ auditBodies: { enabled: true, maxBytes: 10_000_000 } }, /auditBodies.maxBytes/],
      [{ surprise: true }, /unknown field "body.surprise"/],
    ];
    for (const [body, message] of cases) {
      const res = await admin('PUT', '/api/v1/servers/github/policy', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(res.json().error, 'TESSERA_INVALID_ARGUMENT');
      assert.match(res.json().message, message);
    }
    assert.deepEqual((await admin('GET', '/api/v1/servers/github')).json().policy, before);
    assert.equal((await admin('PUT', '/api/v1/servers/nope/policy', {})).statusCode, 404);
  });

  test('audit events keep the decision, rule, filters, digest and bodies', async () => {
    const eventId = randomUUID();
    const e = create(AuditEventSchema, {
      eventId,
      time: timestampNow(),
      proxyId: 'p1',
      server: 'github',
      user: 'alice@example.com',
      method: 'tools/call',
      target: 'delete_repo',
      outcome: 'denied',
      httpStatus: 403,
      decision: 'deny',
      ruleId: 'no-delete',
      filters: [{ name: 'dlp', phase: 'request', decision: 'allow', reason: '', latencyUs: 12n }],
      argumentsDigest: 'a'.repeat(64),
      clientId: 'cursor',
      groups: ['eng'],
      requestBody: '{"password":"[REDACTED]"}',
      bodiesTruncated: true,
      era: '2025-11-25',
    });
    assert.equal((await clients().audit.ingest({ batchId: randomUUID(), events: [e] })).stored, 1);
    const [row] = await ds.query('SELECT * FROM audit_events WHERE event_id = $1', [eventId]);
    assert.equal(row.decision, 'deny');
    assert.equal(row.rule_id, 'no-delete');
    assert.deepEqual(row.filters, [
      { name: 'dlp', phase: 'request', decision: 'allow', reason: '', latencyUs: 12 },
    ]);
    assert.equal(row.arguments_digest, 'a'.repeat(64));
    assert.equal(row.client_id, 'cursor');
    assert.deepEqual(row.groups, ['eng']);
    assert.equal(row.request_body, '{"password":"[REDACTED]"}');
    assert.equal(row.bodies_truncated, true);
    assert.equal(row.era, '2025-11-25');
    await expectCode(
      clients().audit.ingest({
        batchId: randomUUID(),
        events: [create(AuditEventSchema, { ...e, eventId: randomUUID(), decision: 'maybe' })],
      }),
      Code.InvalidArgument,
    );
  });
});
