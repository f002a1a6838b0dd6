/**
 * Static upstream credentials: set through the admin API (validated, sealed at rest, values never
 * shown again), served over the real mesh listener by CredentialService to the server's own proxies
 * only. Also: a signing key stored in clear by an older version is sealed at start.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import type { ControlPlane } from '../src/app.ts';
import { openDataSource } from '../src/db/data-source.ts';
import { proxyMeshToken } from '../src/mesh/mesh-auth.ts';
import { adminClient } from './helpers/admin-client.ts';
import { meshClients } from './helpers/mesh-client.ts';
import { MESH_SECRET, type Replica, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

let db: TestDb;
let replica: Replica;
let cp: ControlPlane;
const SECRET = 'sk-live-credential-7f3a9c';
const ALICE_SECRET = 'alice-personal-token-51b2';

const admin = adminClient(() => cp);

const credentialsOf = (server: string, token = proxyMeshToken(MESH_SECRET, server)) =>
  meshClients(replica.meshUrl, token).credentials;

before(async () => {
  db = await startTestDb();
  // 1. An older version left a signing key in clear: create the schema and that row first.
  const ds = await openDataSource(db.url);
  await ds.query('UPDATE signing_keys SET active = false');
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const privateJwk = { ...(await exportJWK(privateKey)), alg: 'ES256', kid: 'legacy' };
  const publicJwk = { ...(await exportJWK(publicKey)), alg: 'ES256', kid: 'legacy', use: 'sig' };
  await ds.query(
    `INSERT INTO signing_keys (kid, private_jwk, public_jwk, active) VALUES ('legacy', $1, $2, true)`,
    [JSON.stringify(privateJwk), JSON.stringify(publicJwk)],
  );
  await ds.destroy();
  replica = await startReplica(db);
  cp = replica.cp;
  for (const name of ['vault', 'plain']) {
    const res = await admin('POST', '/api/v1/servers', {
      name,
      kind: 'http',
      url: 'http://127.0.0.1:9/mcp',
      resourceUri: `https://${name}.test/mcp`,
    });
    assert.equal(res.statusCode, 201, res.body);
  }
});

after(async () => {
  await replica?.close();
  await db?.stop();
});

describe('signing key at rest', () => {
  test('a plaintext private key is sealed at start, and still signs', async () => {
    const [row] = await replica.ds.query(
      "SELECT private_jwk, sealed_private_jwk FROM signing_keys WHERE kid = 'legacy'",
    );
    assert.equal(row.private_jwk, null);
    assert.ok(Buffer.isBuffer(row.sealed_private_jwk));
    const minted = await admin('POST', '/api/v1/tokens', { user: 'a@example.com', server: 'vault' });
    const jwks = (await replica.ds.query("SELECT public_jwk FROM signing_keys WHERE kid = 'legacy'"))[0]
      .public_jwk;
    const { protectedHeader } = await jwtVerify(
      minted.json().access_token,
      createLocalJWKSet({ keys: [jwks] }),
    );
    assert.equal(protectedHeader.kid, 'legacy');
  });
});

describe('static upstream credentials', () => {
  test('bad input is refused, never echoes a value, and stores nothing', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ headers: {} }, /1 to 20 headers/],
      [{ headers: { 'bad name': 'x' } }, /not a valid HTTP header name/],
      [{ headers: { Host: 'x' } }, /managed by the proxy/],
      [{ headers: { 'Mcp-Session-Id': 'x' } }, /managed by the proxy/],
      [{ headers: { Authorization: `${SECRET}\r\nX-Evil: 1` } }, /without CR, LF or NUL/],
      [{ headers: { a: 'x', A: 'y' } }, /given twice/],
      [{ user: 'not-an-email', headers: { a: 'x' } }, /"user"/],
      [{ headers: { a: 'x' }, extra: 1 }, /unknown field/],
      [{ headers: ['a'] }, /"headers" must be an object/],
    ];
    for (const [body, message] of cases) {
      const res = await admin('PUT', '/api/v1/servers/vault/credentials', body);
      assert.equal(res.statusCode, 400, JSON.stringify(body));
      assert.match(res.json().message, message);
      assert.equal(res.body.includes(SECRET), false);
    }
    assert.equal(
      (await admin('PUT', '/api/v1/servers/nope/credentials', { headers: { a: 'x' } })).statusCode,
      404,
    );
    assert.deepEqual((await admin('GET', '/api/v1/servers/vault/credentials')).json().credentials, []);
  });

  test('set, list (names only), served per user with the server-wide fallback, removed', async () => {
    const wide = await admin('PUT', '/api/v1/servers/vault/credentials', {
      headers: { Authorization: `Bearer ${SECRET}`, 'X-Api-Version': '2' },
    });
    assert.equal(wide.statusCode, 200, wide.body);
    assert.deepEqual(wide.json().headers, ['authorization', 'x-api-version']);
    const mine = await admin('PUT', '/api/v1/servers/vault/credentials', {
      user: 'alice@example.com',
      headers: { Authorization: `Bearer ${ALICE_SECRET}` },
    });
    assert.equal(mine.statusCode, 200);
    const listed = await admin('GET', '/api/v1/servers/vault/credentials');
    assert.equal(listed.json().credentials.length, 2);
    assert.equal(listed.body.includes(SECRET) || listed.body.includes(ALICE_SECRET), false);

    // At rest: sealed, no plaintext in the row.
    const rows = await replica.ds.query('SELECT * FROM upstream_credentials');
    for (const r of rows) {
      assert.equal(r.sealed_headers.includes(Buffer.from(SECRET)), false);
      assert.equal(r.sealed_headers.includes(Buffer.from(ALICE_SECRET)), false);
    }

    const client = credentialsOf('vault');
    const alice = await client.getCredential({ server: 'vault', user: 'alice@example.com' });
    assert.deepEqual(
      alice.headers.map((h) => [h.name, h.value]),
      [['authorization', `Bearer ${ALICE_SECRET}`]],
    );
    assert.equal(alice.connectUrl, '');
    const bob = await client.getCredential({ server: 'vault', user: 'bob@example.com' });
    assert.deepEqual(
      bob.headers.map((h) => [h.name, h.value]),
      [
        ['authorization', `Bearer ${SECRET}`],
        ['x-api-version', '2'],
      ],
    );
    // A server without credentials: nothing to add.
    assert.deepEqual(
      (await credentialsOf('plain').getCredential({ server: 'plain', user: 'bob@example.com' })).headers,
      [],
    );

    // Removing alice's falls back to the server-wide one.
    const del = await admin('DELETE', '/api/v1/servers/vault/credentials?user=alice@example.com');
    assert.equal(del.statusCode, 204);
    const after = await client.getCredential({ server: 'vault', user: 'alice@example.com' });
    assert.equal(after.headers[0]!.value, `Bearer ${SECRET}`);
    assert.equal(
      (await admin('DELETE', '/api/v1/servers/vault/credentials?user=alice@example.com')).statusCode,
      404,
    );
  });

  test('a proxy cannot read another server’s credentials; bad tokens and requests are refused', async () => {
    const code = async (p: Promise<unknown>) => {
      try {
        await p;
        return 'OK';
      } catch (err) {
        return Code[ConnectError.from(err).code];
      }
    };
    assert.equal(
      await code(credentialsOf('plain').getCredential({ server: 'vault', user: 'x@example.com' })),
      'PermissionDenied',
    );
    assert.equal(
      await code(credentialsOf('vault', 'z'.repeat(40)).getCredential({ server: 'vault', user: '' })),
      'Unauthenticated',
    );
    assert.equal(
      await code(credentialsOf('vault').getCredential({ server: 'Bad!', user: '' })),
      'InvalidArgument',
    );
    assert.equal(
      await code(credentialsOf('vault').getCredential({ server: 'vault', user: 'a\nb' })),
      'InvalidArgument',
    );
    assert.equal(await code(credentialsOf('ghost').getCredential({ server: 'ghost', user: '' })), 'NotFound');
  });
});
