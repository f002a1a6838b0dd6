/**
 * Stream limits of the mesh API on a real control plane: streams end at their maximum age (the
 * proxy reconnects, possibly to another replica), and a burst of new streams beyond the token
 * bucket is answered RESOURCE_EXHAUSTED instead of overloading the replica.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import type { ControlPlane } from '../src/app.ts';
import { openStream, TYPE_URLS } from './helpers/mesh-client.ts';
import { MESH_SECRET as MESH, type Replica, registerServer, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

let db: TestDb;
let replica: Replica;
let cp: ControlPlane;
let meshUrl: string;
const node = { id: 'limits', mcpServer: 'limited', role: 'sidecar' };

before(async () => {
  db = await startTestDb();
  replica = await startReplica(db, {
    TESSERA_MESH_MAX_STREAM_AGE_S: '1',
    TESSERA_MESH_NEW_STREAMS_PER_S: '1',
    TESSERA_MESH_NEW_STREAM_BURST: '2',
  });
  ({ cp, meshUrl } = replica);
  await registerServer(cp, 'limited', 'https://limited.test/mcp');
});

after(async () => {
  await replica?.close();
  await db?.stop();
});

test('a burst of new streams beyond the bucket gets RESOURCE_EXHAUSTED', async () => {
  const outcomes = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => {
      const s = openStream(meshUrl, MESH);
      s.send({ node: { ...node, id: `burst-${i}` }, typeUrl: TYPE_URLS[0]! });
      try {
        await s.next();
        return 'admitted';
      } catch (err) {
        return Code[ConnectError.from(err).code];
      } finally {
        s.close();
      }
    }),
  );
  assert.ok(outcomes.filter((o) => o === 'admitted').length >= 2, `the burst is admitted: ${outcomes}`);
  assert.ok(outcomes.includes('ResourceExhausted'), `the excess is refused: ${outcomes}`);
  assert.deepEqual(
    [...new Set(outcomes)].sort(),
    ['ResourceExhausted', 'admitted'],
    `nothing else: ${outcomes}`,
  );
});

test('a stream ends at its maximum age with UNAVAILABLE, after serving its configuration', async () => {
  // Let the bucket refill after the burst test.
  await new Promise((r) => setTimeout(r, 2_100));
  const s = openStream(meshUrl, MESH);
  for (const [i, typeUrl] of TYPE_URLS.entries()) s.send({ node: i === 0 ? node : undefined, typeUrl });
  for (let i = 0; i < 4; i++) await s.next();
  await assert.rejects(s.next(), (err: unknown) => {
    const e = ConnectError.from(err);
    return e.code === Code.Unavailable && /maximum age/.test(e.rawMessage);
  });
  s.close();
});
