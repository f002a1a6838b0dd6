/**
 * Open dynamic client registration is limited per client address and per replica: past either limit a
 * registration gets 429 with `Retry-After`, and no client is stored. Clients come from three loopback
 * addresses (127.0.0.1–3, all local on Linux), against a real replica and PostgreSQL.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { freePort } from './helpers/free-port.ts';
import { type Replica, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

let db: TestDb;
let replica: Replica;
let port = 0;

before(async () => {
  db = await startTestDb();
  port = await freePort();
  replica = await startReplica(db, {
    TESSERA_PORT: String(port),
    TESSERA_PUBLIC_URL: `http://127.0.0.1:${port}`,
    TESSERA_REGISTRATIONS_PER_IP_PER_HOUR: '2',
    TESSERA_REGISTRATIONS_PER_HOUR: '3',
  });
  // All addresses: the test connects from three of them.
  await replica.cp.publicApp.listen({ host: '0.0.0.0', port });
});

after(async () => {
  await replica?.close();
  await db?.stop();
});

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

/** POSTs a registration from `from` (a local address). */
function register(from: string, method = 'POST'): Promise<Answer> {
  const body = JSON.stringify({
    redirect_uris: ['http://127.0.0.1:1/callback'],
    token_endpoint_auth_method: 'none',
    client_name: `from ${from}`,
  });
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        localAddress: from,
        method,
        path: '/oauth/register',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () =>
          resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : {} }),
        );
      },
    );
    req.on('error', reject);
    req.end(method === 'POST' ? body : undefined);
  });
}

async function storedClients(): Promise<number> {
  const rows = (await replica.ds.query(
    "SELECT count(*)::int AS n FROM oauth_payloads WHERE model = 'Client'",
  )) as {
    n: number;
  }[];
  return rows[0]!.n;
}

test('registrations beyond the per-address and per-replica limits get 429, Retry-After and store nothing', async () => {
  const before = await storedClients();
  assert.equal((await register('127.0.0.1')).status, 201);
  assert.equal((await register('127.0.0.1')).status, 201);

  const overAddress = await register('127.0.0.1');
  assert.equal(overAddress.status, 429);
  assert.equal(overAddress.body.error, 'temporarily_unavailable');
  assert.match(String(overAddress.body.error_description), /from this address/);
  const retry = Number(overAddress.headers['retry-after']);
  assert.ok(Number.isInteger(retry) && retry > 3500 && retry <= 3600, `Retry-After: ${retry}`);
  assert.equal(overAddress.headers['cache-control'], 'no-store');

  // Another address has its own allowance, up to the replica's.
  assert.equal((await register('127.0.0.2')).status, 201);
  for (const from of ['127.0.0.2', '127.0.0.3']) {
    const overReplica = await register(from);
    assert.equal(overReplica.status, 429, from);
    assert.match(String(overReplica.body.error_description), /on this server/);
  }
  assert.equal(await storedClients(), before + 3, 'refused registrations stored nothing');

  // The rest of the authorization server is not limited.
  const metadata = await fetch(`http://127.0.0.1:${port}/.well-known/oauth-authorization-server`);
  assert.equal(metadata.status, 200);
  const { registration_endpoint } = (await metadata.json()) as { registration_endpoint: string };
  assert.equal(registration_endpoint, `http://127.0.0.1:${port}/oauth/register`);
});
