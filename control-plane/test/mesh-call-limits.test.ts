/**
 * What the mesh listener refuses before a service runs, on a real control plane: a call without a
 * valid mesh token (answered from its headers, its body never read), a compressed body, a message
 * over the size limit, and the gRPC protocols. A well-formed call still goes through.
 */
import assert from 'node:assert/strict';
import { type ClientHttp2Session, connect, type IncomingHttpHeaders } from 'node:http2';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { IngestRequestSchema } from '@tessera/api/mesh/v1/audit';
import { MESH_READ_MAX_BYTES } from '../src/mesh/mesh-gate.ts';
import { meshClients } from './helpers/mesh-client.ts';
import { MESH_SECRET as MESH, type Replica, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

const INGEST = '/tessera.mesh.v1.AuditService/Ingest';
const BATCH_ID = '0b7f2a52-6a0e-4b8e-9a43-5f1f6f0c2d11';

let db: TestDb;
let replica: Replica;
let session: ClientHttp2Session;

before(async () => {
  db = await startTestDb();
  replica = await startReplica(db, {});
  session = connect(replica.meshUrl);
});

after(async () => {
  session?.close();
  await replica?.close();
  await db?.stop();
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * One request on the shared HTTP/2 session. With `endBody: false` the body is written but the
 * request never ends: an answer can then only come from the headers.
 */
function call(headers: Record<string, string>, body: Buffer, endBody = true): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': INGEST, ...headers });
    let head: IncomingHttpHeaders = {};
    let text = '';
    stream.on('response', (h) => {
      head = h;
    });
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      text += chunk;
    });
    stream.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: text }));
    stream.on('error', reject);
    if (endBody) stream.end(body);
    else stream.write(body);
  });
}

function connectCode(answer: Answer): string {
  return (JSON.parse(answer.body) as { code: string }).code;
}

const emptyBatch = () =>
  Buffer.from(toBinary(IngestRequestSchema, create(IngestRequestSchema, { batchId: BATCH_ID })));

test('a call without a valid mesh token is refused from its headers, before its body is read', {
  timeout: 30_000,
}, async () => {
  // The body is 1 MiB of a request that never ends: had the listener waited for it, no answer would come.
  for (const authorization of [undefined, 'Bearer not-the-mesh-token', `Basic ${MESH}`]) {
    const answer = await call(
      {
        'content-type': 'application/proto',
        ...(authorization ? { authorization } : {}),
      },
      Buffer.alloc(1024 * 1024, 7),
      false,
    );
    assert.equal(answer.status, 401, `${authorization}: ${answer.body}`);
    assert.equal(answer.headers['content-type'], 'application/json');
    assert.equal(connectCode(answer), 'unauthenticated');
  }
});

test('a compressed body is refused, even with a valid token: a small request must not expand in memory', async () => {
  // 64 MiB of zeros compress to about 64 KB.
  const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
  for (const [encoding, body] of [
    ['gzip', bomb],
    ['gzip', gzipSync(emptyBatch())],
    ['br', emptyBatch()],
  ] as const) {
    const answer = await call(
      { 'content-type': 'application/proto', 'content-encoding': encoding, authorization: `Bearer ${MESH}` },
      body,
    );
    assert.notEqual(answer.status, 200, `${encoding}: ${answer.body}`);
    assert.equal(connectCode(answer), 'unimplemented', answer.body);
    assert.match(answer.body, /compression/);
  }
});

test(`a message over ${MESH_READ_MAX_BYTES} bytes is refused with resource_exhausted`, async () => {
  const answer = await call(
    { 'content-type': 'application/proto', authorization: `Bearer ${MESH}` },
    Buffer.alloc(MESH_READ_MAX_BYTES + 1, 1),
  );
  assert.equal(connectCode(answer), 'resource_exhausted', answer.body);
});

test('gRPC and gRPC-Web are not served: the mesh speaks Connect', async () => {
  for (const contentType of ['application/grpc', 'application/grpc+proto', 'application/grpc-web+proto']) {
    const answer = await call({ 'content-type': contentType, authorization: `Bearer ${MESH}` }, emptyBatch());
    assert.equal(answer.status, 415, `${contentType}: ${answer.status} ${answer.body}`);
  }
});

test('a well-formed call with a valid token goes through, on the raw wire and with the Connect client', async () => {
  const raw = await call(
    { 'content-type': 'application/proto', authorization: `Bearer ${MESH}` },
    emptyBatch(),
  );
  assert.equal(raw.status, 200, raw.body);
  const answer = await meshClients(replica.meshUrl, MESH).audit.ingest({ batchId: BATCH_ID, events: [] });
  assert.equal(answer.batchId, BATCH_ID);
  assert.equal(answer.stored, 0);
});

test('the health endpoint stays open without a token', async () => {
  // The mesh listener speaks HTTP/2 without TLS, which fetch does not: ask over the session.
  const status = await new Promise<number>((resolve, reject) => {
    const s = session.request({ ':path': '/healthz' });
    s.on('response', (h) => resolve(Number(h[':status'])));
    s.on('error', reject);
    s.resume();
    s.end();
  });
  assert.equal(status, 200);
});
