/**
 * Filter webhook secrets at rest: sealed in `filter_secrets`, bound to their server and filter,
 * absent in every encoding from every row of every table, never shown by the API, yet pushed to
 * proxies; secrets an earlier version left in the policy jsonb are sealed at the next start.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createFilterSecrets, filterSecretContext } from '../src/catalog/filter-secrets.ts';
import { adminClient } from './helpers/admin-client.ts';
import { type Replica, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

let db: TestDb;
let replica: Replica;
const admin = adminClient(() => replica.cp);
const SECRET = 'whsec_filterSecretValue0123456789';
const LEGACY = 'whsec_legacyPlaintextSecret98765';

before(async () => {
  db = await startTestDb();
  replica = await startReplica(db);
  const created = await admin('POST', '/api/v1/servers', {
    name: 'files',
    kind: 'http',
    url: 'http://127.0.0.1:9/mcp',
    resourceUri: 'https://files.mcp.example.com/mcp',
  });
  assert.equal(created.statusCode, 201, created.body);
});

after(async () => {
  await replica?.close();
  await db?.stop();
});

const filter = (name: string, hmacSecret: string) => ({
  name,
  url: 'https://dlp.example.com/hook',
  phase: 'request',
  hmacSecret,
});

/** Every row of every table as Postgres prints it (bytea as hex): what a dump would hold. */
async function everyRow(): Promise<string> {
  const tables: Array<{ name: string }> = await replica.ds.query(
    "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'",
  );
  let text = '';
  for (const { name } of tables) {
    const rows: Array<{ row: string }> = await replica.ds.query(`SELECT t::text AS row FROM "${name}" t`);
    text += rows.map((r) => r.row).join('\n');
  }
  return text;
}

function assertAbsent(text: string, secret: string): void {
  const b = Buffer.from(secret);
  for (const form of [
    secret,
    b.toString('base64').replace(/=+$/, ''),
    b.toString('base64url'),
    b.toString('hex'),
  ])
    assert.equal(text.includes(form), false, `the database holds the secret (${form.slice(0, 12)}…)`);
}

test('a filter secret is sealed at rest, bound to its filter, never shown, and opened for proxies', async () => {
  const put = await admin('PUT', '/api/v1/servers/files/policy', { filters: [filter('dlp', SECRET)] });
  assert.equal(put.statusCode, 200, put.body);
  assert.equal(put.json().policy.filters[0].hmacSecret, '(set)');
  assert.equal((await admin('GET', '/api/v1/servers/files')).json().policy.filters[0].hmacSecret, '(set)');

  const [row] = await replica.ds.query("SELECT policy FROM mcp_servers WHERE name = 'files'");
  assert.equal('hmacSecret' in row.policy.filters[0], false);
  assertAbsent(await everyRow(), SECRET);

  const secrets = createFilterSecrets({ ds: replica.ds, box: replica.cp.secretBox });
  const opened = await secrets.open('files', row.policy);
  assert.equal(opened.filters![0]!.hmacSecret, SECRET);

  // Bound to (server, filter): the sealed value does not open as another filter's secret.
  const [sealed] = await replica.ds.query(
    "SELECT sealed_secret FROM filter_secrets WHERE server = 'files' AND filter_name = 'dlp'",
  );
  await assert.rejects(
    replica.cp.secretBox.openText(sealed.sealed_secret, filterSecretContext('files', 'other')),
    { code: 'TESSERA_SECRET_UNREADABLE' },
  );
  assert.equal(
    await replica.cp.secretBox.openText(sealed.sealed_secret, filterSecretContext('files', 'dlp')),
    SECRET,
  );
});

test('a policy without a filter drops its secret; a refused policy keeps the old one', async () => {
  const bad = await admin('PUT', '/api/v1/servers/files/policy', {
    filters: [filter('dlp', 'x'.repeat(20)), { ...filter('b', 'y'.repeat(20)), url: 'ftp://x/' }],
  });
  assert.equal(bad.statusCode, 400);
  const count = async () =>
    (await replica.ds.query("SELECT filter_name FROM filter_secrets WHERE server = 'files'")).map(
      (r: { filter_name: string }) => r.filter_name,
    );
  assert.deepEqual(await count(), ['dlp']);
  assert.equal((await admin('PUT', '/api/v1/servers/files/policy', {})).statusCode, 200);
  assert.deepEqual(await count(), []);
});

test('secrets an earlier version stored in the policy jsonb are sealed at the next start', async () => {
  await replica.ds.query("UPDATE mcp_servers SET policy = $1 WHERE name = 'files'", [
    JSON.stringify({
      filters: [{ ...filter('legacy', LEGACY), methods: [], targets: [], timeoutMs: 2000, mayMutate: false }],
    }),
  ]);
  await replica.close();
  replica = await startReplica(db);
  const [row] = await replica.ds.query("SELECT policy FROM mcp_servers WHERE name = 'files'");
  assert.equal(row.policy.filters[0].name, 'legacy');
  assert.equal('hmacSecret' in row.policy.filters[0], false);
  assertAbsent(await everyRow(), LEGACY);
  const opened = await createFilterSecrets({ ds: replica.ds, box: replica.cp.secretBox }).open(
    'files',
    row.policy,
  );
  assert.equal(opened.filters![0]!.hmacSecret, LEGACY);
});
