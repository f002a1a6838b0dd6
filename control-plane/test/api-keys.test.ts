/**
 * API keys end to end: created through the admin API (shown once, stored hashed), pushed to the
 * server's proxy as hashes, accepted by a real proxy only for the servers in their scope, and
 * refused again once revoked (a configuration push).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ControlPlane } from '../src/app.ts';
import { adminClient } from './helpers/admin-client.ts';
import { freePort } from './helpers/free-port.ts';
import { type LocalProxy, startLocalProxy } from './helpers/local-proxy.ts';
import { MESH_SECRET, type Replica, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

let db: TestDb;
let replica: Replica;
let cp: ControlPlane;
let proxy: LocalProxy;

const admin = adminClient(() => cp);

before(async () => {
  db = await startTestDb();
  replica = await startReplica(db);
  cp = replica.cp;
  const port = await freePort();
  for (const [name, resourceUri] of [
    ['keyed', `http://127.0.0.1:${port}/mcp`],
    ['other', 'https://other.test/mcp'],
  ]) {
    const res = await admin('POST', '/api/v1/servers', {
      name,
      kind: 'http',
      url: 'http://127.0.0.1:9/mcp',
      resourceUri,
      grants: { users: ['robot@example.com'] },
    });
    assert.equal(res.statusCode, 201, res.body);
  }
  proxy = await startLocalProxy({ server: 'keyed', port, meshUrl: replica.meshUrl, meshSecret: MESH_SECRET });
});

after(async () => {
  await proxy?.close();
  await replica?.close();
  await db?.stop();
});

describe('API keys', () => {
  test('bad requests are refused and create nothing', async () => {
    const good = { name: 'ci', user: 'robot@example.com', servers: ['keyed'] };
    const cases: Array<[unknown, RegExp]> = [
      [[], /JSON object/],
      [{ ...good, extra: 1 }, /unknown field "extra"/],
      [{ ...good, name: ' ' }, /"name"/],
      [{ ...good, user: 'robot' }, /"user" must be an email/],
      [{ ...good, servers: [] }, /"servers"/],
      [{ ...good, servers: ['Not A Name'] }, /"servers"/],
      [{ ...good, groups: [''] }, /"groups"/],
      [{ ...good, expiresInDays: 0 }, /"expiresInDays"/],
      [{ ...good, expiresInDays: 366 }, /"expiresInDays"/],
      [{ ...good, expiresInDays: 1.5 }, /"expiresInDays"/],
    ];
    for (const [body, message] of cases) {
      const res = await admin('POST', '/api/v1/api-keys', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.equal(res.json().error, 'TESSERA_INVALID_ARGUMENT');
      assert.match(res.json().message, message);
    }
    const missing = await admin('POST', '/api/v1/api-keys', { ...good, servers: ['keyed', 'nope'] });
    assert.equal(missing.statusCode, 404);
    assert.equal((await admin('GET', '/api/v1/api-keys')).json().apiKeys.length, 0);
    const noAuth = await cp.publicApp.inject({ method: 'GET', url: '/api/v1/api-keys' });
    assert.equal(noAuth.statusCode, 401);
  });

  test('a key is shown once, stored as its hash, works on its servers only, and stops when revoked', async () => {
    // 1. Create: the answer carries the key, in the documented format.
    const created = await admin('POST', '/api/v1/api-keys', {
      name: 'ci bot',
      user: 'robot@example.com',
      servers: ['keyed'],
      groups: ['ci'],
      expiresInDays: 30,
    });
    assert.equal(created.statusCode, 201, created.body);
    const { key, id, status, expiresAt } = created.json();
    assert.match(key, /^tsk_[a-z0-9]{16}_[A-Za-z0-9_-]{43}$/);
    assert.equal(key.split('_')[1], id);
    assert.equal(status, 'active');
    const days = (Date.parse(expiresAt) - Date.now()) / 86_400_000;
    assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);

    // 2. At rest: only the SHA-256; neither the key nor its secret appears anywhere in the row.
    const [row] = await replica.ds.query('SELECT * FROM api_keys WHERE id = $1', [id]);
    assert.deepEqual(row.secret_hash, createHash('sha256').update(key).digest());
    assert.equal(JSON.stringify(row).includes(key.split('_').slice(2).join('_')), false);

    // 3. Listing never shows the key or its hash again.
    const listed = await admin('GET', '/api/v1/api-keys?user=robot@example.com');
    assert.equal(listed.json().apiKeys.length, 1);
    assert.equal(listed.body.includes(key), false);
    assert.equal(Object.hasOwn(listed.json().apiKeys[0], 'key'), false);
    assert.equal((await admin('GET', '/api/v1/api-keys?user=nobody@example.com')).json().apiKeys.length, 0);
    assert.equal((await admin('GET', '/api/v1/api-keys?user=bad')).statusCode, 400);

    // 4. The proxy of its server accepts it once the trust bundle with its hash has arrived.
    await proxy.waitForStatus(`Bearer ${key}`, 200);
    // A wrong secret with the same id is refused.
    assert.equal(await proxy.call(`Bearer ${key.slice(0, -2)}${key.endsWith('AA') ? 'BB' : 'AA'}`), 401);
    // The use reaches the control plane through the proxy's audit and shows as lastUsedAt.
    let lastUsedAt: string | null = null;
    for (let i = 0; i < 100 && !lastUsedAt; i++) {
      const keys = (await admin('GET', '/api/v1/api-keys?user=robot@example.com')).json().apiKeys;
      lastUsedAt = keys.find((k: { id: string }) => k.id === id)?.lastUsedAt ?? null;
      if (!lastUsedAt) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(lastUsedAt && Date.now() - Date.parse(lastUsedAt) < 120_000, `lastUsedAt ${lastUsedAt}`);

    // 5. A key scoped to another server is not valid here.
    const elsewhere = await admin('POST', '/api/v1/api-keys', {
      name: 'other',
      user: 'robot@example.com',
      servers: ['other'],
    });
    assert.equal(elsewhere.statusCode, 201);
    assert.equal(await proxy.call(`Bearer ${elsewhere.json().key}`), 401);

    // 6. Revocation is a push: the proxy refuses the key from then on; revoking again changes nothing.
    const revoked = await admin('DELETE', `/api/v1/api-keys/${id}`);
    assert.equal(revoked.statusCode, 200);
    assert.equal(revoked.json().status, 'revoked');
    await proxy.waitForStatus(`Bearer ${key}`, 401);
    const again = await admin('DELETE', `/api/v1/api-keys/${id}`);
    assert.equal(again.json().revokedAt, revoked.json().revokedAt);
    assert.equal((await admin('DELETE', '/api/v1/api-keys/0000000000000000')).statusCode, 404);
    assert.equal((await admin('DELETE', '/api/v1/api-keys/..%2F')).statusCode, 404);
  });
});
