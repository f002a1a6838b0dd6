/**
 * The authorization server's Postgres adapter on a real PostgreSQL: the oidc-provider adapter
 * contract (find, uid and user-code lookups, consume, destroy, revoke by grant, expiry), payloads
 * sealed with the SecretBox at rest, and single-use external login states.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { DataSource } from 'typeorm';
import { createLocalKeyProvider } from '../src/crypto/local-key-provider.ts';
import { createSecretBox } from '../src/crypto/secret-box.ts';
import { openDataSource } from '../src/db/data-source.ts';
import { createLoginStates } from '../src/identity/login-state.ts';
import { deleteExpired, postgresAdapter } from '../src/identity/oidc-adapter.ts';
import { secretBoxSealer } from '../src/identity/secret-sealer.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

let db: TestDb;
let ds: DataSource;
const sealer = secretBoxSealer(createSecretBox({ provider: createLocalKeyProvider([randomBytes(32)]) }));

before(async () => {
  db = await startTestDb();
  ds = await openDataSource(db.url);
});

after(async () => {
  await ds?.destroy();
  await db?.stop();
});

test('upsert, find and the uid / user-code lookups; payloads are sealed at rest', async () => {
  const sessions = postgresAdapter(ds, sealer)('Session');
  await sessions.upsert('s1', { uid: 'u1', accountId: 'secret-account', kind: 'Session' }, 60);
  assert.deepEqual(await sessions.find('s1'), { uid: 'u1', accountId: 'secret-account', kind: 'Session' });
  assert.equal((await sessions.findByUid('u1'))?.accountId, 'secret-account');
  assert.equal(await sessions.findByUid('nope'), undefined);
  const codes = postgresAdapter(ds, sealer)('DeviceCode');
  await codes.upsert('d1', { userCode: 'ABCD-EFGH', grantId: 'g9' }, 60);
  assert.equal((await codes.findByUserCode('ABCD-EFGH'))?.grantId, 'g9');
  const [row] = await ds.query("SELECT payload FROM oauth_payloads WHERE model = 'Session' AND id = 's1'");
  assert.ok(!row.payload.includes('secret-account'), 'the payload is not stored in clear');
  // Another model's adapter does not see the row, and a row sealed for one model does not open as another.
  assert.equal(await postgresAdapter(ds, sealer)('Grant').find('s1'), undefined);
  await ds.query("UPDATE oauth_payloads SET model = 'Grant' WHERE model = 'Session' AND id = 's1'");
  await assert.rejects(postgresAdapter(ds, sealer)('Grant').find('s1'));
});

test('consume marks a payload consumed; destroy removes it; an upsert replaces it', async () => {
  const a = postgresAdapter(ds, sealer)('AuthorizationCode');
  await a.upsert('c1', { grantId: 'g1', scope: 'mcp' }, 60);
  assert.equal((await a.find('c1'))?.consumed, undefined);
  await a.consume('c1');
  assert.equal(typeof (await a.find('c1'))?.consumed, 'number');
  await a.upsert('c1', { grantId: 'g1', scope: 'mcp other' }, 60);
  assert.equal((await a.find('c1'))?.scope, 'mcp other');
  await a.destroy('c1');
  assert.equal(await a.find('c1'), undefined);
});

test('revokeByGrantId removes every model issued under the grant, and nothing else', async () => {
  const at = postgresAdapter(ds, sealer)('AccessToken');
  const rt = postgresAdapter(ds, sealer)('RefreshToken');
  await at.upsert('t1', { grantId: 'g2' }, 60);
  await rt.upsert('r1', { grantId: 'g2' }, 60);
  await rt.upsert('r2', { grantId: 'g3' }, 60);
  await at.revokeByGrantId('g2');
  assert.equal(await at.find('t1'), undefined);
  assert.equal(await rt.find('r1'), undefined);
  assert.ok(await rt.find('r2'));
});

test('expired payloads are invisible at once and deleted by deleteExpired', async () => {
  const a = postgresAdapter(ds, sealer)('Interaction');
  await a.upsert('i1', { uid: 'x' }, 60);
  await a.upsert('i2', { uid: 'y' }, 60);
  await a.upsert('forever', { uid: 'z' }, undefined);
  await ds.query(
    "UPDATE oauth_payloads SET expires_at = now() - interval '1 second' WHERE id IN ('i1', 'i2')",
  );
  assert.equal(await a.find('i1'), undefined);
  assert.equal(await a.findByUid('y'), undefined);
  assert.equal(await deleteExpired(ds), 2);
  assert.ok(await a.find('forever'), 'a payload without expiry stays');
});

test('an external login state is taken exactly once', async () => {
  const states = createLoginStates(ds, sealer);
  const attempt = { uid: 'u', idp: 'oidc' as const, codeVerifier: 'v'.repeat(43), nonce: 'n' };
  await states.put('state-1', attempt);
  assert.deepEqual(await states.take('state-1'), attempt);
  assert.equal(await states.take('state-1'), undefined, 'a replay finds nothing');
  assert.equal(await states.take('never-issued'), undefined);
});
