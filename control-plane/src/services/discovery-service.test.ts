import assert from 'node:assert/strict';
import { test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import {
  type DiscoveryRequest,
  DiscoveryRequestSchema,
  MeshDiscoveryService,
} from '@tessera/api/mesh/v1/discovery';
import { createConfigHub } from '../mesh/config-hub.ts';
import { localAuthenticator, proxyMeshToken } from '../mesh/mesh-auth.ts';
import { buildSnapshot } from '../mesh/snapshot.ts';
import { discoveryService, HEARTBEAT_TYPE_URL } from './discovery-service.ts';

const SECRET = 's'.repeat(40);
const TRUST = 'type.googleapis.com/tessera.mesh.v1.TrustBundle';

function setup(options: { ready: () => boolean; heartbeatMs?: number }) {
  let snapshots = 0;
  const hub = createConfigHub({
    controlPlaneId: 'cp-test',
    log: () => {},
    snapshotOf: async (server) => {
      snapshots++;
      return buildSnapshot({
        server: {
          name: server,
          kind: 'http',
          command: null,
          args: [],
          url: 'http://127.0.0.1:9/mcp',
          resourceUri: 'https://x.test/mcp',
          localPort: null,
          grantUsers: [],
          grantGroups: [],
          policy: {},
          createdAt: new Date(0),
          updatedAt: new Date(0),
        },
        issuer: 'http://issuer.test',
        jwks: { keys: [] },
        audit: { batchMaxEvents: 1, flushIntervalMs: 10 },
        requestTimeoutMs: 1000,
      });
    },
  });
  const transport = createRouterTransport(({ service }) => {
    service(
      MeshDiscoveryService,
      discoveryService({
        hub,
        authenticate: localAuthenticator(SECRET),
        serverExists: async () => true,
        ready: options.ready,
        heartbeatMs: options.heartbeatMs,
      }),
    );
  });
  const client = createClient(MeshDiscoveryService, transport);
  async function* requests(abort: AbortSignal): AsyncIterable<DiscoveryRequest> {
    yield create(DiscoveryRequestSchema, {
      node: { id: 'n', mcpServer: 'x', role: 'sidecar' },
      typeUrl: TRUST,
    });
    await new Promise((r) => abort.addEventListener('abort', r, { once: true }));
  }
  const open = () => {
    const abort = new AbortController();
    const it = client
      .streamResources(requests(abort.signal), {
        signal: abort.signal,
        headers: { authorization: `Bearer ${proxyMeshToken(SECRET, 'x')}` },
      })
      [Symbol.asyncIterator]();
    return { it, close: () => abort.abort() };
  };
  return { hub, open, snapshots: () => snapshots };
}

test('a replica that is not ready answers UNAVAILABLE and serves nothing', async () => {
  let ready = false;
  const s = setup({ ready: () => ready });
  const first = s.open();
  await assert.rejects(first.it.next(), (e: unknown) => ConnectError.from(e).code === Code.Unavailable);
  first.close();
  assert.equal(s.hub.size(), 0);
  assert.equal(s.snapshots(), 0, 'nothing was computed for the refused stream');
  ready = true;
  const second = s.open();
  assert.equal((await second.it.next()).value?.typeUrl, TRUST);
  second.close();
});

test('a quiet stream gets heartbeats: no resources, no nonce, the replica id', async () => {
  const s = setup({ ready: () => true, heartbeatMs: 20 });
  const stream = s.open();
  assert.equal((await stream.it.next()).value?.typeUrl, TRUST);
  const beat = (await stream.it.next()).value!;
  assert.equal(beat.typeUrl, HEARTBEAT_TYPE_URL);
  assert.equal(beat.nonce, '');
  assert.equal(beat.resources.length, 0);
  assert.equal(beat.controlPlaneId, 'cp-test');
  stream.close();
});
