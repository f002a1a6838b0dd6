/**
 * The proxy's discovery client over a real HTTP/2 Connect stream. The peer is a scripted
 * MeshDiscoveryService so that the test can send what a correct control plane never would
 * (an invalid resource) and cut the stream at will.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { create, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import {
  AuditSettingsSchema,
  GrantSchema,
  ServerPolicySchema,
  TrustBundleSchema,
  UpstreamSchema,
} from '@tessera/api/mesh/v1/config';
import {
  type DiscoveryRequest,
  type DiscoveryResponse,
  DiscoveryResponseSchema,
  HeartbeatSchema,
  MeshDiscoveryService,
  ResourceSchema,
} from '@tessera/api/mesh/v1/discovery';
import { exportJWK, generateKeyPair } from 'jose';
import type { PolicyIR } from '../src/ir/proxy-config.ts';
import { createMeshTransport, type MeshTransport } from '../src/mesh-api/mesh-transport.ts';
import { type ConfigStore, createConfigStore } from '../src/store/config-store.ts';
import { createSnapshotFile } from '../src/store/snapshot-file.ts';
import { createDiscoveryClient } from '../src/xds/discovery-client.ts';
import { freePort } from './helpers/free-port.ts';

const TOKEN = 't'.repeat(40);
const typeUrlOf = (schema: DescMessage) => `type.googleapis.com/${schema.typeName}`;
let server: Http2Server;
let url: URL;
/** Every request the peer received, per stream. */
const streams: DiscoveryRequest[][] = [];
/** The script for the current stream: called with each request, returns responses to send. */
let script: (req: DiscoveryRequest, stream: number) => DiscoveryResponse[] = () => [];
let cut: (() => void) | undefined;

function response<Desc extends DescMessage>(
  schema: Desc,
  value: MessageShape<Desc>,
  version: string,
): DiscoveryResponse {
  return create(DiscoveryResponseSchema, {
    typeUrl: typeUrlOf(schema),
    versionInfo: version,
    nonce: `${schema.typeName}-${version}-${Math.random()}`,
    resources: [create(ResourceSchema, { name: 'r', version, resource: anyPack(schema, value) })],
    controlPlaneId: 'scripted',
  });
}

let jwksJson = '';
const valid = () => [
  response(TrustBundleSchema, create(TrustBundleSchema, { issuer: 'https://issuer.test', jwksJson }), 't1'),
  response(
    UpstreamSchema,
    create(UpstreamSchema, { server: 'demo', resourceUri: 'https://demo.test/mcp' }),
    'u1',
  ),
  response(
    ServerPolicySchema,
    create(ServerPolicySchema, { server: 'demo', grants: [create(GrantSchema, { users: ['alice'] })] }),
    'p1',
  ),
  response(
    AuditSettingsSchema,
    create(AuditSettingsSchema, { batchMaxEvents: 10, flushIntervalMs: 100 }),
    'a1',
  ),
];

before(async () => {
  const { publicKey } = await generateKeyPair('ES256');
  jwksJson = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k' }] });
  const handler = connectNodeAdapter({
    routes(router) {
      router.service(MeshDiscoveryService, {
        async *streamResources(requests, ctx) {
          if (ctx.requestHeader.get('authorization') !== `Bearer ${TOKEN}`)
            throw new ConnectError('no', Code.Unauthenticated);
          const n = streams.push([]) - 1;
          const out: DiscoveryResponse[] = [];
          let wake: (() => void) | undefined;
          let done = false;
          cut = () => {
            done = true;
            wake?.();
          };
          void (async () => {
            for await (const req of requests) {
              streams[n]!.push(req);
              out.push(...script(req, n));
              wake?.();
            }
          })().catch(() => {});
          while (!done) {
            if (out.length) yield out.shift()!;
            else await new Promise<void>((r) => (wake = r));
          }
          throw new ConnectError('stream cut by the test', Code.Unavailable);
        },
      });
    },
  });
  server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

after(() => {
  server.close();
});

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), what);
}

/**
 * A peer script: the full valid configuration on the first subscription, then, once the audit
 * settings are ACKed (everything applied), a policy for the wrong server, which must be NACKed.
 */
function validThenBadPolicy(): typeof script {
  let sentBad = false;
  return (req) => {
    if (!req.responseNonce && req.typeUrl.endsWith('TrustBundle')) return valid();
    if (!sentBad && req.responseNonce.startsWith('tessera.mesh.v1.AuditSettings')) {
      sentBad = true;
      return [response(ServerPolicySchema, create(ServerPolicySchema, { server: 'other' }), 'p2')];
    }
    return [];
  };
}

/** Starts a discovery client for server "demo" against the scripted peer. */
function startClient(
  id: string,
  store: ConfigStore,
  extra: {
    meshToken?: string;
    onApplied?: (r: DiscoveryResponse, bytes: Uint8Array) => void;
    transport?: MeshTransport;
    idleTimeoutMs?: number;
  } = {},
) {
  const transport =
    extra.transport ?? createMeshTransport({ controlPlaneUrl: url, meshToken: extra.meshToken ?? TOKEN });
  const client = createDiscoveryClient({
    transport,
    node: { id, server: 'demo', role: 'sidecar', version: 'test' },
    store,
    log: () => {},
    onApplied: extra.onApplied,
    failover: transport.failover,
    idleTimeoutMs: extra.idleTimeoutMs,
  });
  client.start();
  return client;
}

test('subscribes in order, ACKs valid config, NACKs an invalid one and keeps the previous', async () => {
  const store = createConfigStore();
  script = validThenBadPolicy();
  const client = startClient('n1', store);
  try {
    await until(() => streams[0]?.some((r) => r.errorDetail) ?? false, 'a NACK arrives');
    const reqs = streams[0]!;
    // 1. Four subscriptions in dependency order, the first carrying the node.
    assert.deepEqual(
      reqs.slice(0, 4).map((r) => r.typeUrl.split('.').pop()),
      ['TrustBundle', 'Upstream', 'ServerPolicy', 'AuditSettings'],
    );
    assert.equal(reqs[0]!.node?.id, 'n1');
    assert.equal(reqs[0]!.node?.mcpServer, 'demo');
    // 2. ACKs echo version and nonce.
    const acks = reqs.filter((r) => r.responseNonce && !r.errorDetail);
    assert.deepEqual(acks.map((a) => a.versionInfo).sort(), ['a1', 'p1', 't1', 'u1']);
    // 3. The NACK keeps the last good version and says why.
    const nack = reqs.find((r) => r.errorDetail)!;
    assert.equal(nack.versionInfo, 'p1');
    assert.equal(nack.errorDetail!.code, Code.InvalidArgument);
    assert.match(nack.errorDetail!.message, /ServerPolicy.server is "other"/);
    // 4. The store still enforces the previous policy.
    assert.ok(store.ready());
    assert.ok(allows(store.current()!.policy, 'alice'));
    assert.equal(store.versions().policy?.version, 'p1');
  } finally {
    client.close();
  }
});

test('reconnects after the stream is cut, telling the peer which versions it holds', async () => {
  streams.length = 0;
  const store = createConfigStore();
  script = (req, n) => (n === 0 && !req.responseNonce && req.typeUrl.endsWith('TrustBundle') ? valid() : []);
  const client = startClient('n2', store);
  try {
    await until(
      () => store.ready() && (streams[0]?.filter((r) => r.responseNonce).length ?? 0) === 4,
      'configured',
    );
    cut!();
    await until(() => (streams[1]?.length ?? 0) >= 4, 'a second stream subscribes again');
    const again = streams[1]!.slice(0, 4).map((r) => r.versionInfo);
    assert.deepEqual(again, ['t1', 'u1', 'p1', 'a1']);
    // 5. Config and readiness survive the outage.
    assert.ok(store.ready());
    assert.ok(store.current());
  } finally {
    client.close();
  }
});

test('a wrong mesh token never configures the proxy', async () => {
  streams.length = 0;
  const store = createConfigStore();
  const client = startClient('n3', store, { meshToken: 'wrong'.repeat(10) });
  await new Promise((r) => setTimeout(r, 300));
  client.close();
  assert.equal(streams.length, 0);
  assert.equal(store.ready(), false);
  assert.equal(store.current(), undefined);
});

test('applied configuration survives a restart through the snapshot file; a NACKed one is not saved', async () => {
  streams.length = 0;
  const dir = mkdtempSync(join(tmpdir(), 'tessera-snapshot-'));
  const snapshot = createSnapshotFile(dir, () => {});
  script = validThenBadPolicy();
  const client = startClient('n4', createConfigStore(), { onApplied: snapshot.save });
  await until(() => streams[0]?.some((r) => r.errorDetail) ?? false, 'the bad policy was NACKed');
  client.close();

  // 1. A fresh store (a restarted proxy) is complete and ready from the files alone.
  const restarted = createConfigStore();
  assert.equal(snapshot.load(restarted, 'demo'), 4);
  assert.ok(restarted.ready());
  assert.ok(allows(restarted.current()!.policy, 'alice'));
  assert.equal(restarted.versions().policy?.version, 'p1', 'the NACKed p2 was never saved');
  // 2. A snapshot is validated like a push: another server's proxy does not accept it.
  const foreign = createConfigStore();
  snapshot.load(foreign, 'someone-else');
  assert.equal(foreign.ready(), false);
  // 3. A corrupt file is ignored, not fatal.
  writeFileSync(join(dir, 'policy.pb'), 'not protobuf');
  const partial = createConfigStore();
  assert.equal(snapshot.load(partial, 'demo'), 3);
  assert.equal(partial.ready(), false, 'without a policy the proxy stays unready and denies');
});

function allows(policy: PolicyIR, name: string): boolean {
  const caller = { name, subject: name, groups: [], clientId: '', claims: {} };
  return policy.engine.decide(caller, 'initialize', '', undefined).effect === 'ALLOW';
}
test('with several control-plane addresses, a dead one is skipped for the next', async () => {
  streams.length = 0;
  script = (req) => (!req.responseNonce && req.typeUrl.endsWith('TrustBundle') ? valid() : []);
  const dead = new URL(`http://127.0.0.1:${await freePort()}`);
  const transport = createMeshTransport({
    controlPlaneUrl: dead,
    controlPlaneUrls: [dead, url],
    meshToken: TOKEN,
  });
  const store = createConfigStore();
  const client = startClient('n5', store, { transport });
  try {
    await until(() => store.ready(), 'configured through the second address');
    assert.equal(transport.current().href, url.href);
  } finally {
    client.close();
  }
});

test('heartbeats are not answered; a silent stream is abandoned and reopened', async () => {
  streams.length = 0;
  const heartbeat = create(DiscoveryResponseSchema, {
    typeUrl: typeUrlOf(HeartbeatSchema),
    controlPlaneId: 'x',
  });
  // Stream 0: config and a heartbeat, then silence. Later streams: nothing.
  script = (req, n) =>
    n === 0 && !req.responseNonce && req.typeUrl.endsWith('TrustBundle') ? [...valid(), heartbeat] : [];
  const store = createConfigStore();
  const client = startClient('n6', store, { idleTimeoutMs: 300 });
  try {
    await until(() => streams.length >= 2, 'the silent stream is replaced by a new one');
    const answers = streams[0]!.filter((r) => r.responseNonce || r.errorDetail);
    assert.equal(answers.length, 4, 'four ACKs, nothing for the heartbeat');
    assert.ok(answers.every((r) => !r.errorDetail));
    assert.ok(store.ready(), 'the configuration stays in force');
  } finally {
    client.close();
  }
});

test('a token file is re-read, so a rotated token is used without a restart', async () => {
  streams.length = 0;
  script = () => [];
  const dir = mkdtempSync(join(tmpdir(), 'tessera-token-'));
  const file = join(dir, 'token');
  writeFileSync(file, 'expired'.repeat(6));
  const transport = createMeshTransport({
    controlPlaneUrl: url,
    meshToken: 'expired'.repeat(6),
    meshTokenFile: file,
    tokenRereadMs: 0,
  });
  const client = startClient('n7', createConfigStore(), { transport });
  try {
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(streams.length, 0, 'the old token is refused');
    writeFileSync(file, `${TOKEN}\n`);
    await until(() => streams.length > 0, 'the rotated token is accepted');
  } finally {
    client.close();
  }
});
