/**
 * Encryption at rest, proven on a real `pg_dump`: after secrets of every kind went in through the
 * API (an API key, a static upstream credential, a filter webhook secret, the signing key), the dump of the whole database
 * contains none of them, in clear, base64 or hex, nor the key-encryption key. Then a rotation of
 * the local key re-wraps every value, and a restarted control plane opens them with the new key only.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { createFilterSecrets } from '../src/catalog/filter-secrets.ts';
import { KEY_FILE } from '../src/crypto/local-keyring.ts';
import { signingKeyContext } from '../src/keys/signing-keys.ts';
import { proxyMeshToken } from '../src/mesh/mesh-auth.ts';
import { adminClient } from './helpers/admin-client.ts';
import { meshClients } from './helpers/mesh-client.ts';
import { pgDumpPath } from './helpers/python-tools.ts';
import { MESH_SECRET, type Replica, startReplica } from './helpers/replica.ts';
import { sealedValues } from './helpers/sealed-values.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

let db: TestDb;
let replica: Replica;
const admin = adminClient(() => replica.cp);

const UPSTREAM_SECRET = 'ghp_upstreamSecretValue0123456789';
const FILTER_SECRET = 'whsec_filterWebhookSecret0123456789';

before(async () => {
  db = await startTestDb();
  replica = await startReplica(db);
});

after(async () => {
  await replica?.close();
  await db?.stop();
});

async function dump(): Promise<string> {
  const { stdout } = await promisify(execFile)(pgDumpPath(), ['--no-owner', '--dbname', db.url], {
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

/** Every way a secret could show up in a dump: as is, base64, base64url, hex (text and bytea). */
function encodings(secret: string | Buffer): string[] {
  const b = typeof secret === 'string' ? Buffer.from(secret) : secret;
  const out = [b.toString('base64').replace(/=+$/, ''), b.toString('base64url'), b.toString('hex')];
  if (typeof secret === 'string') out.push(secret);
  return out;
}

function assertAbsent(text: string, secrets: Record<string, string | Buffer>) {
  for (const [what, secret] of Object.entries(secrets)) {
    for (const form of encodings(secret)) {
      assert.equal(text.includes(form), false, `the dump contains the ${what} (${form.slice(0, 12)}…)`);
    }
  }
}

async function localKeys(): Promise<Buffer[]> {
  const file = JSON.parse(await readFile(join(db.dataDir, KEY_FILE), 'utf8')) as {
    keys: Array<{ key: string }>;
  };
  return file.keys.map((k) => Buffer.from(k.key, 'base64'));
}

test('a database dump holds no plaintext secret, token or key; rotation re-wraps them all', async () => {
  // 1. Secrets of every kind, through the API.
  const server = await admin('POST', '/api/v1/servers', {
    name: 'secretive',
    kind: 'http',
    url: 'http://127.0.0.1:9/mcp',
    resourceUri: 'https://secretive.test/mcp',
  });
  assert.equal(server.statusCode, 201, server.body);
  const apiKey = (
    await admin('POST', '/api/v1/api-keys', {
      name: 'dump',
      user: 'robot@example.com',
      servers: ['secretive'],
    })
  ).json().key as string;
  const cred = await admin('PUT', '/api/v1/servers/secretive/credentials', {
    headers: { authorization: `Bearer ${UPSTREAM_SECRET}` },
  });
  assert.equal(cred.statusCode, 200);
  const policy = await admin('PUT', '/api/v1/servers/secretive/policy', {
    filters: [{ name: 'dlp', url: 'https://dlp.test/hook', phase: 'request', hmacSecret: FILTER_SECRET }],
  });
  assert.equal(policy.statusCode, 200, policy.body);
  const [{ kid, sealed_private_jwk }] = await replica.ds.query(
    'SELECT kid, sealed_private_jwk FROM signing_keys',
  );
  const d = (
    JSON.parse(await replica.cp.secretBox.openText(sealed_private_jwk, signingKeyContext(kid))) as {
      d: string;
    }
  ).d;
  const [kek] = await localKeys();
  const secrets = {
    'API key': apiKey,
    'API key secret': apiKey.split('_').slice(2).join('_'),
    'upstream credential': UPSTREAM_SECRET,
    'filter secret': FILTER_SECRET,
    'signing key (d)': d,
    'signing key bytes': Buffer.from(d, 'base64url'),
    'local key-encryption key': kek!,
  };

  // 2. The dump is real and complete (it has the rows), yet holds none of the secrets.
  const first = await dump();
  assert.match(first, /COPY public\.upstream_credentials/);
  assert.ok(first.includes('secretive'), 'the dump has the rows');
  assertAbsent(first, secrets);

  // 3. Rotation: a new local key becomes current and every value is re-wrapped under it.
  const rotated = await admin('POST', '/api/v1/keys/rotate', {});
  assert.equal(rotated.statusCode, 200, rotated.body);
  // The signing key, the upstream credential, the filter secret, and the identity secrets the control plane generated
  // for itself (cookie keys: in the same dump, so they must be sealed and rotated too).
  const sealed = (await sealedValues(replica.ds)).length;
  assert.deepEqual(rotated.json(), { rewrapped: sealed, current: 0 });
  assert.ok(
    sealed >= 5,
    `the signing key, the credential, the filter secret and the identity secrets are sealed (${sealed})`,
  );
  const ring = await localKeys();
  assert.equal(ring.length, 1, 'the old key is retired once nothing needs it');
  assert.notDeepEqual(ring[0], kek);
  assertAbsent(await dump(), { ...secrets, 'new key-encryption key': ring[0]! });

  // 4. A restarted control plane, with only the new key, opens everything.
  await replica.close();
  replica = await startReplica(db);
  const got = await meshClients(
    replica.meshUrl,
    proxyMeshToken(MESH_SECRET, 'secretive'),
  ).credentials.getCredential({
    server: 'secretive',
    user: 'anyone@example.com',
  });
  assert.equal(got.headers[0]!.value, `Bearer ${UPSTREAM_SECRET}`);
  const [row] = await replica.ds.query("SELECT policy FROM mcp_servers WHERE name = 'secretive'");
  const opened = await createFilterSecrets({ ds: replica.ds, box: replica.cp.secretBox }).open(
    'secretive',
    row.policy,
  );
  assert.equal(opened.filters![0]!.hmacSecret, FILTER_SECRET);
  assert.equal(
    (await admin('POST', '/api/v1/tokens', { user: 'a@example.com', server: 'secretive' })).statusCode,
    200,
  );
});
