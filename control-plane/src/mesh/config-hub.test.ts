import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { create } from '@bufbuild/protobuf';
import { anyUnpack } from '@bufbuild/protobuf/wkt';
import { ServerPolicySchema } from '@tessera/api/mesh/v1/config';
import {
  DiscoveryRequestSchema,
  type DiscoveryResponse,
  NodeSchema,
  StatusSchema,
} from '@tessera/api/mesh/v1/discovery';
import type { JWK } from 'jose';
import { type ConfigHub, type ConfigHubOptions, createConfigHub, type SyncState } from './config-hub.ts';
import { buildSnapshot, type SnapshotServer, type TypeSnapshot } from './snapshot.ts';

const TRUST = 'type.googleapis.com/tessera.mesh.v1.TrustBundle';
const UPSTREAM = 'type.googleapis.com/tessera.mesh.v1.Upstream';
const POLICY = 'type.googleapis.com/tessera.mesh.v1.ServerPolicy';
const AUDIT = 'type.googleapis.com/tessera.mesh.v1.AuditSettings';
const ALL = [TRUST, UPSTREAM, POLICY, AUDIT];

const KEY: JWK = { kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k1', alg: 'ES256', use: 'sig' };

function row(name: string, overrides: Partial<SnapshotServer> = {}): SnapshotServer {
  return {
    name,
    kind: 'http',
    command: null,
    args: [],
    url: 'http://127.0.0.1:8080/mcp',
    resourceUri: `http://127.0.0.1:15001/${name}`,
    localPort: null,
    grantUsers: ['ada@example.com'],
    grantGroups: [],
    policy: {},
    createdAt: new Date(0),
    updatedAt: new Date(0),
    ...overrides,
  };
}

interface Proxy {
  id: string;
  sent: DiscoveryResponse[];
}

/** A hub over an in-memory, mutable catalogue, with helpers that speak for one proxy. */
function setup(extra: Partial<ConfigHubOptions> = {}) {
  const rows = new Map<string, SnapshotServer>([
    ['github', row('github')],
    ['gitlab', row('gitlab')],
  ]);
  const logs: Array<{ level: string; msg: string; fields: Record<string, unknown> | undefined }> = [];
  const snapshotOf = async (server: string): Promise<TypeSnapshot[] | undefined> => {
    const r = rows.get(server);
    if (!r) return undefined;
    return buildSnapshot({
      server: r,
      issuer: 'http://127.0.0.1:8080',
      jwks: { keys: [KEY] },
      audit: { batchMaxEvents: 256, flushIntervalMs: 1000 },
      requestTimeoutMs: 30_000,
    });
  };
  const hub = createConfigHub({
    controlPlaneId: 'cp-1',
    snapshotOf,
    log: (level, msg, fields) => logs.push({ level, msg, fields }),
    ...extra,
  });

  function connect(server: string, nodeId = `${server}-node`): Proxy {
    const sent: DiscoveryResponse[] = [];
    const node = create(NodeSchema, { id: nodeId, mcpServer: server, role: 'sidecar' });
    return {
      id: hub.connect(node, (r) => {
        sent.push(r);
      }),
      sent,
    };
  }

  async function subscribe(
    p: Proxy,
    typeUrl: string,
    versionInfo = '',
    initialVersions: Record<string, string> = {},
  ) {
    await hub.request(p.id, create(DiscoveryRequestSchema, { typeUrl, versionInfo, initialVersions }));
  }

  async function subscribeAll(p: Proxy): Promise<void> {
    for (const t of ALL) await subscribe(p, t);
  }

  async function ack(p: Proxy, r: DiscoveryResponse): Promise<void> {
    await hub.request(
      p.id,
      create(DiscoveryRequestSchema, {
        typeUrl: r.typeUrl,
        versionInfo: r.versionInfo,
        responseNonce: r.nonce,
      }),
    );
  }

  async function nack(p: Proxy, r: DiscoveryResponse, message: string, previous = ''): Promise<void> {
    await hub.request(
      p.id,
      create(DiscoveryRequestSchema, {
        typeUrl: r.typeUrl,
        versionInfo: previous,
        responseNonce: r.nonce,
        errorDetail: create(StatusSchema, { code: 3, message }),
      }),
    );
  }

  function states(p: Proxy): Record<string, SyncState> {
    const s = hub.status().find((x) => x.streamId === p.id);
    assert.ok(s, 'the stream is not in status()');
    return Object.fromEntries(s.types.map((t) => [t.typeUrl, t.state]));
  }

  function typeStatus(p: Proxy, typeUrl: string) {
    return hub
      .status()
      .find((x) => x.streamId === p.id)
      ?.types.find((t) => t.typeUrl === typeUrl);
  }

  return { hub, rows, logs, snapshotOf, connect, subscribe, subscribeAll, ack, nack, states, typeStatus };
}

function all(state: SyncState): Record<string, SyncState> {
  return Object.fromEntries(ALL.map((t) => [t, state]));
}

async function ackAll(h: ReturnType<typeof setup>, p: Proxy): Promise<void> {
  for (const r of p.sent) await h.ack(p, r);
}

describe('createConfigHub: subscriptions', () => {
  test('each subscription is answered with one response for that type', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribeAll(p);
    const snapshot = (await h.snapshotOf('github'))!;
    assert.deepEqual(
      p.sent.map((r) => r.typeUrl),
      ALL,
    );
    for (const [i, r] of p.sent.entries()) {
      assert.equal(r.versionInfo, snapshot[i]!.version);
      assert.equal(r.controlPlaneId, 'cp-1');
      assert.equal(r.resources.length, 1);
      assert.equal(r.resources[0]!.version, snapshot[i]!.version);
      assert.ok(r.nonce.length > 0);
    }
    assert.equal(new Set(p.sent.map((r) => r.nonce)).size, 4, 'nonces are unique');
  });

  test('a sent but unanswered type is STALE', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribeAll(p);
    assert.deepEqual(h.states(p), all('STALE'));
  });

  test('a new stream reports no types yet', () => {
    const h = setup();
    const p = h.connect('github', 'node-7');
    const [s] = h.hub.status();
    assert.equal(s?.streamId, p.id);
    assert.equal(s?.nodeId, 'node-7');
    assert.equal(s?.server, 'github');
    assert.equal(s?.role, 'sidecar');
    assert.equal(s?.controlPlaneId, 'cp-1');
    assert.ok(!Number.isNaN(Date.parse(s?.connectedAt ?? '')));
    assert.deepEqual(s?.types, []);
  });

  test('a subscription holding the current version sends nothing and is SYNCED', async () => {
    const h = setup();
    const p = h.connect('github');
    const current = (await h.snapshotOf('github'))!;
    for (const snap of current) await h.subscribe(p, snap.typeUrl, snap.version);
    assert.equal(p.sent.length, 0);
    assert.deepEqual(h.states(p), all('SYNCED'));
    assert.equal(h.typeStatus(p, POLICY)?.ackedVersion, current[2]!.version);
  });

  test('initial versions from a persisted snapshot count as held', async () => {
    const h = setup();
    const p = h.connect('github');
    const current = (await h.snapshotOf('github'))!;
    await h.subscribe(p, POLICY, '', { github: current[2]!.version });
    assert.equal(p.sent.length, 0);
    assert.equal(h.states(p)[POLICY], 'SYNCED');
  });

  test('a subscription holding an old version is answered', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribe(p, POLICY, 'old-version');
    assert.equal(p.sent.length, 1);
    assert.equal(p.sent[0]!.typeUrl, POLICY);
  });

  test('a subscription to an unknown type is ignored and logged', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribe(p, 'type.googleapis.com/tessera.mesh.v1.Grant');
    assert.equal(p.sent.length, 0);
    assert.ok(h.logs.some((l) => l.level === 'warn' && /unknown type/.test(l.msg)));
  });

  test('a proxy for a server not in the catalogue is sent nothing', async () => {
    const h = setup();
    const p = h.connect('nope');
    await h.subscribeAll(p);
    assert.equal(p.sent.length, 0);
    assert.deepEqual(h.states(p), {});
  });

  test('requests on an unknown stream are ignored', async () => {
    const h = setup();
    await h.hub.request('no-such-stream', create(DiscoveryRequestSchema, { typeUrl: TRUST }));
    assert.deepEqual(h.hub.status(), []);
  });
});

describe('createConfigHub: ACK and NACK', () => {
  test('an ACK of the latest nonce makes the type SYNCED', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribeAll(p);
    await h.ack(p, p.sent[0]!);
    assert.equal(h.states(p)[TRUST], 'SYNCED');
    assert.equal(h.states(p)[UPSTREAM], 'STALE');
    await ackAll(h, p);
    assert.deepEqual(h.states(p), all('SYNCED'));
    assert.equal(h.typeStatus(p, AUDIT)?.ackedVersion, p.sent[3]!.versionInfo);
  });

  test('a NACK makes the type NACKED with the error text', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribeAll(p);
    await h.nack(p, p.sent[1]!, 'Upstream.resource_uri must have no query or fragment');
    const t = h.typeStatus(p, UPSTREAM);
    assert.equal(t?.state, 'NACKED');
    assert.equal(t?.error, 'Upstream.resource_uri must have no query or fragment');
    assert.equal(t?.ackedVersion, '');
    assert.ok(h.logs.some((l) => l.level === 'warn' && /NACK/.test(l.msg)));
  });

  test('a NACK without a message reports its code', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribe(p, TRUST);
    await h.nack(p, p.sent[0]!, '');
    assert.equal(h.typeStatus(p, TRUST)?.error, 'code 3');
  });

  test('an ACK or NACK with a stale nonce is ignored', async () => {
    // No flow control, so that a second response goes out before the first is answered.
    const h = setup({ flowControlTimeoutMs: 0 });
    const p = h.connect('github');
    await h.subscribe(p, POLICY);
    const first = p.sent[0]!;
    // 1. The grants change, so a second policy response supersedes the first.
    h.rows.set('github', row('github', { grantUsers: ['bob@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(p.sent.length, 2);
    // 2. An answer to the first response says nothing about the second.
    await h.ack(p, first);
    assert.equal(h.states(p)[POLICY], 'STALE');
    await h.nack(p, first, 'old');
    assert.equal(h.states(p)[POLICY], 'STALE');
    assert.equal(h.typeStatus(p, POLICY)?.error, '');
    // 3. The answer to the latest counts.
    await h.ack(p, p.sent[1]!);
    assert.equal(h.states(p)[POLICY], 'SYNCED');
  });

  test('an ACK with a made-up nonce or for an unsent type is ignored', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribe(p, TRUST);
    await h.hub.request(
      p.id,
      create(DiscoveryRequestSchema, { typeUrl: TRUST, versionInfo: 'x', responseNonce: 'forged' }),
    );
    await h.hub.request(
      p.id,
      create(DiscoveryRequestSchema, { typeUrl: AUDIT, versionInfo: 'x', responseNonce: 'forged' }),
    );
    assert.deepEqual(h.states(p), { [TRUST]: 'STALE' });
  });
});

describe('createConfigHub: pushes on change', () => {
  test('after a grant change only the policy is resent, and is STALE until ACKed', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribeAll(p);
    await ackAll(h, p);
    const oldPolicyVersion = p.sent[2]!.versionInfo;

    h.rows.set('github', row('github', { grantUsers: ['ada@example.com', 'bob@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();

    assert.equal(p.sent.length, 5);
    const pushed = p.sent[4]!;
    assert.equal(pushed.typeUrl, POLICY);
    assert.notEqual(pushed.versionInfo, oldPolicyVersion);
    assert.equal(pushed.controlPlaneId, 'cp-1');
    assert.equal(new Set(p.sent.map((r) => r.nonce)).size, 5);
    const policy = anyUnpack(pushed.resources[0]!.resource!, ServerPolicySchema)!;
    assert.deepEqual(policy.grants[0]!.users, ['ada@example.com', 'bob@example.com']);
    assert.deepEqual(h.states(p), { ...all('SYNCED'), [POLICY]: 'STALE' });

    await h.ack(p, pushed);
    assert.deepEqual(h.states(p), all('SYNCED'));
  });

  test('a new push after a NACK clears the error', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribe(p, POLICY);
    await h.nack(p, p.sent[0]!, 'bad');
    assert.equal(h.states(p)[POLICY], 'NACKED');
    h.rows.set('github', row('github', { grantGroups: ['eng'] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(p.sent.length, 2);
    assert.equal(h.states(p)[POLICY], 'STALE');
    assert.equal(h.typeStatus(p, POLICY)?.error, '');
  });

  test('a change with no effect on content sends nothing', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribeAll(p);
    await ackAll(h, p);
    h.rows.set('github', row('github', { updatedAt: new Date(), grantUsers: ['ada@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(p.sent.length, 4);
  });

  test('types never subscribed are not pushed', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribe(p, TRUST);
    await ackAll(h, p);
    h.rows.set('github', row('github', { grantUsers: ['z@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.deepEqual(
      p.sent.map((r) => r.typeUrl),
      [TRUST],
    );
  });

  test('streams of other servers are untouched', async () => {
    const h = setup();
    const gh = h.connect('github');
    const gl = h.connect('gitlab');
    await h.subscribeAll(gh);
    await h.subscribeAll(gl);
    await ackAll(h, gh);
    await ackAll(h, gl);
    h.rows.set('github', row('github', { resourceUri: 'http://127.0.0.1:15009/github' }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(gh.sent.length, 5);
    assert.equal(gh.sent[4]!.typeUrl, UPSTREAM);
    assert.equal(gl.sent.length, 4);
    assert.deepEqual(h.states(gl), all('SYNCED'));
  });

  test('every stream of the changed server gets the push', async () => {
    const h = setup();
    const a = h.connect('github', 'pod-a');
    const b = h.connect('github', 'pod-b');
    await h.subscribeAll(a);
    await h.subscribeAll(b);
    await ackAll(h, a);
    await ackAll(h, b);
    h.rows.set('github', row('github', { grantUsers: [] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(a.sent.length, 5);
    assert.equal(b.sent.length, 5);
    assert.notEqual(a.sent[4]!.nonce, b.sent[4]!.nonce);
  });

  test('a server removed from the catalogue keeps its proxies on their last configuration', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribeAll(p);
    await ackAll(h, p);
    h.rows.delete('github');
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(p.sent.length, 4);
    assert.deepEqual(h.states(p), all('SYNCED'));
  });

  test('a failing snapshot source is logged and does not stop other pushes', async () => {
    const h = setup();
    const logs: string[] = [];
    const sent: DiscoveryResponse[] = [];
    const hub: ConfigHub = createConfigHub({
      controlPlaneId: 'cp-1',
      snapshotOf: async (server) => {
        if (server === 'broken' && sent.length > 0) throw new Error('database down');
        return h.snapshotOf('github');
      },
      log: (_level, msg, fields) => logs.push(`${msg} ${JSON.stringify(fields)}`),
    });
    const id = hub.connect(create(NodeSchema, { id: 'n', mcpServer: 'broken' }), (r) => {
      sent.push(r);
    });
    await hub.request(id, create(DiscoveryRequestSchema, { typeUrl: TRUST }));
    assert.equal(sent.length, 1);
    hub.changed('broken');
    await hub.flush();
    assert.equal(sent.length, 1);
    assert.ok(logs.some((l) => l.startsWith('push failed') && l.includes('database down')));
  });

  test('flush with nothing pending does nothing', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribeAll(p);
    await h.hub.flush();
    assert.equal(p.sent.length, 4);
  });
});

describe('createConfigHub: disconnect', () => {
  test('a disconnected stream leaves status() and receives no pushes', async () => {
    const h = setup();
    const a = h.connect('github', 'pod-a');
    const b = h.connect('github', 'pod-b');
    await h.subscribeAll(a);
    h.hub.disconnect(a.id);
    assert.deepEqual(
      h.hub.status().map((s) => s.streamId),
      [b.id],
    );
    h.rows.set('github', row('github', { grantUsers: [] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(a.sent.length, 4);
    await h.hub.request(a.id, create(DiscoveryRequestSchema, { typeUrl: TRUST }));
    assert.equal(a.sent.length, 4);
  });

  test('disconnecting an unknown stream is harmless', () => {
    const h = setup();
    h.connect('github');
    h.hub.disconnect('nope');
    assert.equal(h.hub.status().length, 1);
  });
});

describe('createConfigHub: merge queue and push concurrency', () => {
  test('changes made while a push is unanswered are merged into one push of the latest version', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribeAll(p);
    await ackAll(h, p);
    // 1. A first change goes out; the proxy has not answered it yet.
    h.rows.set('github', row('github', { grantUsers: ['b@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(p.sent.length, 5);
    // 2. Two more changes while it is in flight: nothing is sent.
    for (const user of ['c@example.com', 'd@example.com']) {
      h.rows.set('github', row('github', { grantUsers: [user] }));
      h.hub.changed('github');
      await h.hub.flush();
    }
    assert.equal(p.sent.length, 5);
    // 3. The answer releases exactly one push, carrying the newest grants.
    await h.ack(p, p.sent[4]!);
    await h.hub.flush();
    assert.equal(p.sent.length, 6);
    const policy = anyUnpack(p.sent[5]!.resources[0]!.resource!, ServerPolicySchema)!;
    assert.deepEqual(policy.grants[0]!.users, ['d@example.com']);
  });

  test('a pending change that returns to the sent version is dropped', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribe(p, POLICY);
    h.rows.set('github', row('github', { grantUsers: ['b@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();
    h.rows.set('github', row('github'));
    h.hub.changed('github');
    await h.hub.flush();
    await h.ack(p, p.sent[0]!);
    await h.hub.flush();
    assert.equal(p.sent.length, 1);
  });

  test('a NACK also releases the next push', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribe(p, POLICY);
    h.rows.set('github', row('github', { grantUsers: ['b@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(p.sent.length, 1);
    await h.nack(p, p.sent[0]!, 'bad policy');
    await h.hub.flush();
    assert.equal(p.sent.length, 2);
  });

  test('an unanswered response stops holding back pushes after the flow-control timeout', {
    timeout: 10_000,
  }, async () => {
    const h = setup({ flowControlTimeoutMs: 20 });
    const p = h.connect('github');
    await h.subscribe(p, POLICY);
    h.rows.set('github', row('github', { grantUsers: ['b@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(p.sent.length, 1);
    for (let i = 0; i < 500 && p.sent.length < 2; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(p.sent.length, 2, 'the held change went out');
    assert.equal(p.sent[1]!.typeUrl, POLICY);
  });

  test('a push after an answered one is still released by the flow-control timeout', {
    timeout: 10_000,
  }, async () => {
    const h = setup({ flowControlTimeoutMs: 60 });
    const p = h.connect('github');
    await h.subscribe(p, POLICY);
    await h.ack(p, p.sent[0]!);
    // 1. A change goes out 30 ms later, while the timer of the first response is still pending.
    await new Promise((r) => setTimeout(r, 30));
    h.rows.set('github', row('github', { grantUsers: ['b@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(p.sent.length, 2);
    // 2. The proxy never answers it; a third change waits, then goes out once that response times out.
    h.rows.set('github', row('github', { grantUsers: ['c@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.equal(p.sent.length, 2);
    for (let i = 0; i < 500 && p.sent.length < 3; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(p.sent.length, 3, 'the held change went out');
    const policy = anyUnpack(p.sent[2]!.resources[0]!.resource!, ServerPolicySchema)!;
    assert.deepEqual(policy.grants[0]!.users, ['c@example.com']);
  });

  test('no more than pushConcurrency pushes are written at once, and all complete', async () => {
    let writing = 0;
    let most = 0;
    const h = setup({ pushConcurrency: 2 });
    const proxies: Proxy[] = [];
    for (let i = 0; i < 6; i++) {
      const sent: DiscoveryResponse[] = [];
      const node = create(NodeSchema, { id: `n${i}`, mcpServer: 'github' });
      const id = h.hub.connect(node, async (r) => {
        sent.push(r);
        writing++;
        most = Math.max(most, writing);
        await new Promise((res) => setTimeout(res, 5));
        writing--;
      });
      proxies.push({ id, sent });
    }
    for (const p of proxies) {
      await h.subscribe(p, POLICY);
      await ackAll(h, p);
    }
    most = 0;
    h.rows.set('github', row('github', { grantUsers: ['b@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();
    assert.ok(proxies.every((p) => p.sent.length === 2));
    assert.equal(most, 2);
  });

  test('the snapshot of a server is computed once per change, whatever the number of proxies', async () => {
    let calls = 0;
    const h = setup();
    const counting = createConfigHub({
      controlPlaneId: 'cp-1',
      snapshotOf: (s) => {
        calls++;
        return h.snapshotOf(s);
      },
      log: () => {},
    });
    const ids = Array.from({ length: 20 }, (_, i) =>
      counting.connect(create(NodeSchema, { id: `n${i}`, mcpServer: 'github' }), () => {}),
    );
    for (const id of ids)
      for (const t of ALL) await counting.request(id, create(DiscoveryRequestSchema, { typeUrl: t }));
    assert.equal(calls, 1);
    counting.changed('github');
    await counting.flush();
    assert.equal(calls, 2);
  });
});

describe('createConfigHub: status', () => {
  test('the last NACK error stays visible after the type recovers', async () => {
    const h = setup();
    const p = h.connect('github');
    await h.subscribe(p, POLICY);
    await h.nack(p, p.sent[0]!, 'unknown field');
    h.rows.set('github', row('github', { grantUsers: ['b@example.com'] }));
    h.hub.changed('github');
    await h.hub.flush();
    await h.ack(p, p.sent[1]!);
    const t = h.typeStatus(p, POLICY);
    assert.equal(t?.state, 'SYNCED');
    assert.equal(t?.error, '');
    assert.equal(t?.lastError, 'unknown field');
    assert.ok(!Number.isNaN(Date.parse(t?.lastErrorAt ?? '')));
  });

  test('takeStatusChanges reports changed and departed streams once', async () => {
    const h = setup();
    const a = h.connect('github', 'a');
    const b = h.connect('github', 'b');
    assert.deepEqual(
      h.hub
        .takeStatusChanges()
        .changed.map((s) => s.nodeId)
        .sort(),
      ['a', 'b'],
    );
    await h.subscribe(a, TRUST);
    h.hub.disconnect(b.id);
    const next = h.hub.takeStatusChanges();
    assert.deepEqual(
      next.changed.map((s) => s.nodeId),
      ['a'],
    );
    assert.deepEqual(next.removed, [b.id]);
    assert.deepEqual(h.hub.takeStatusChanges(), { changed: [], removed: [] });
  });
});
