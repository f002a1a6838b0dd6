/**
 * Three control-plane replicas on one PostgreSQL: a change made through one replica reaches proxies
 * connected to the others (LISTEN/NOTIFY), also after their listening connections were killed.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { DiscoveryResponse } from '@tessera/api/mesh/v1/discovery';
import { openStream, type TestStream, TYPE_URLS } from './helpers/mesh-client.ts';
import { ADMIN_TOKEN as ADMIN, MESH_SECRET as MESH, type Replica, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

const POLICY = TYPE_URLS[2]!;
let db: TestDb;
const replicas: Replica[] = [];

before(async () => {
  db = await startTestDb();
  for (let i = 0; i < 3; i++) replicas.push(await startReplica(db, {}, { listenForChanges: true }));
});

after(async () => {
  for (const r of replicas) await r.close();
  await db?.stop();
});

function admin(replica: number, method: 'POST' | 'PUT', url: string, payload: unknown) {
  return replicas[replica]!.cp.publicApp.inject({
    method,
    url,
    headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
    payload: JSON.stringify(payload),
  });
}

/** Subscribes like a proxy and ACKs everything; returns the stream and the policy version it holds. */
async function connectProxy(
  replica: number,
  id: string,
): Promise<{ stream: TestStream; policy: DiscoveryResponse }> {
  const stream = openStream(replicas[replica]!.meshUrl, MESH);
  for (const [i, typeUrl] of TYPE_URLS.entries()) {
    stream.send({ node: i === 0 ? { id, mcpServer: 'shared', role: 'sidecar' } : undefined, typeUrl });
  }
  let policy: DiscoveryResponse | undefined;
  for (let i = 0; i < 4; i++) {
    const r = await stream.next();
    stream.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce });
    if (r.typeUrl === POLICY) policy = r;
  }
  return { stream, policy: policy! };
}

async function nextPolicy(stream: TestStream): Promise<DiscoveryResponse> {
  for (;;) {
    const r = await stream.next();
    stream.send({ typeUrl: r.typeUrl, versionInfo: r.versionInfo, responseNonce: r.nonce });
    if (r.typeUrl === POLICY) return r;
  }
}

test('a grant changed through one replica reaches proxies on every replica', async () => {
  const created = await admin(0, 'POST', '/api/v1/servers', {
    name: 'shared',
    kind: 'http',
    url: 'http://127.0.0.1:9/mcp',
    resourceUri: 'https://shared.mcp.test/mcp',
    grants: { users: ['alice@example.com'] },
  });
  assert.equal(created.statusCode, 201, created.body);
  const a = await connectProxy(1, 'proxy-on-1');
  const b = await connectProxy(2, 'proxy-on-2');
  assert.equal(a.policy.versionInfo, b.policy.versionInfo, 'replicas compute the same content-hash version');

  const put = await admin(0, 'PUT', '/api/v1/servers/shared/grants', { users: ['bob@example.com'] });
  assert.equal(put.statusCode, 200);
  const [pa, pb] = await Promise.all([nextPolicy(a.stream), nextPolicy(b.stream)]);
  assert.notEqual(pa.versionInfo, a.policy.versionInfo);
  assert.equal(pa.versionInfo, pb.versionInfo);
  assert.equal(pa.controlPlaneId, replicas[1]!.cp.id);
  assert.equal(pb.controlPlaneId, replicas[2]!.cp.id);

  // The listening connections die (as when Postgres restarts); the replicas reconnect and resync.
  const killed: unknown[] = await replicas[0]!.ds.query(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN tessera_config' AND pid <> pg_backend_pid()",
  );
  assert.equal(killed.length, 3, 'one listening connection per replica was killed');
  const again = await admin(0, 'PUT', '/api/v1/servers/shared/grants', { users: ['carol@example.com'] });
  assert.equal(again.statusCode, 200);
  const [qa, qb] = await Promise.all([nextPolicy(a.stream), nextPolicy(b.stream)]);
  assert.notEqual(qa.versionInfo, pa.versionInfo);
  assert.equal(qa.versionInfo, qb.versionInfo);
  a.stream.close();
  b.stream.close();
});
