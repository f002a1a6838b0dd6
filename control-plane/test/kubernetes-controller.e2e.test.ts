/**
 * The MCPServer controller against a real kube-apiserver (no controller manager: nothing is garbage
 * collected unless the controller deletes it, and Deployments never get pods).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  AppsV1Api,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  NetworkingV1Api,
} from '@kubernetes/client-node';
import { httpsGet, installCrds, type KubeApiServer, kubeSkip, startKubeApiServer } from '@tessera/e2e/kube';
import type { DataSource } from 'typeorm';
import { createFilterSecrets } from '../src/catalog/filter-secrets.ts';
import { createServerRegistry, type ServerRegistry } from '../src/catalog/server-registry.ts';
import { createLocalKeyProvider } from '../src/crypto/local-key-provider.ts';
import { createSecretBox } from '../src/crypto/secret-box.ts';
import { openDataSource } from '../src/db/data-source.ts';
import { startLeaderElector } from '../src/kubernetes/leader-election.ts';
import type { McpServer } from '../src/kubernetes/mcp-server.ts';
import { type RunningController, startKubernetesController } from '../src/kubernetes/start-controller.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

const NS = 'tools';
/** Where MCPServers live in the tests' namespace, as the custom-objects API addresses them. */
const CR = { group: 'tessera.dev', version: 'v1alpha1', namespace: NS, plural: 'mcpservers' };
const SETTINGS = {
  namespace: 'tessera',
  podName: 'control-plane-0',
  resyncSeconds: 10,
  clusterDomain: 'cluster.local',
  proxyImage: 'tessera/proxy:test',
  runnerNodeImage: 'tessera/runner-node:test',
  runnerPythonImage: 'tessera/runner-python:test',
  meshAddress: 'http://tessera-mesh.tessera.svc:15010',
};

async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await probe();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

const gone = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (err: { code?: number }) => (err.code === 404 ? true : undefined),
  );

describe('MCPServer controller on a real API server', { skip: kubeSkip(), timeout: 600_000 }, () => {
  let kube: KubeApiServer;
  let kc: KubeConfig;
  let controller: RunningController;
  let db: TestDb;
  let ds: DataSource;
  let registry: ServerRegistry;
  let custom: CustomObjectsApi;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let net: NetworkingV1Api;
  const logs: string[] = [];

  before(async () => {
    db = await startTestDb();
    ds = await openDataSource(db.url);
    const box = createSecretBox({ provider: createLocalKeyProvider([randomBytes(32)]) });
    registry = createServerRegistry(ds, createFilterSecrets({ ds, box }));
    kube = await startKubeApiServer();
    kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfigPath);
    custom = kc.makeApiClient(CustomObjectsApi);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    net = kc.makeApiClient(NetworkingV1Api);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespace({ body: { metadata: { name: SETTINGS.namespace } } });
    // As in a control-plane replica: it wins the Lease (nobody else holds it), then starts the controller.
    controller = startKubernetesController(
      SETTINGS,
      (level, msg, fields) => logs.push(`${level} ${msg} ${JSON.stringify(fields ?? {})}`),
      { kubeConfig: kc, registry },
    );
    // Leading before the CRD exists: the MCPServer watch fails and retries until the CRD is installed.
    await eventually('a failing watch', async () => logs.some((l) => l.includes('watch failed; restarting')));
    await installCrds(kc);
  });
  after(async () => {
    await controller?.close();
    await kube?.stop();
    await ds?.destroy();
    await db?.stop();
  });

  const server = (name: string, spec: McpServer['spec']): McpServer => ({
    apiVersion: 'tessera.dev/v1alpha1',
    kind: 'MCPServer',
    metadata: { name, namespace: NS },
    spec,
  });
  const create = (s: McpServer) =>
    custom.createNamespacedCustomObject({
      ...CR,
      body: s,
    });
  const get = (name: string) =>
    custom.getNamespacedCustomObject({
      ...CR,
      name,
    }) as Promise<McpServer>;

  test('an MCPServer becomes its ServiceAccount, Deployment, Service and NetworkPolicy, with status', async () => {
    const created = (await create(
      server('github', {
        container: { image: 'ghcr.io/example/github-mcp:1', port: 8081 },
        access: { grants: { groups: ['engineering'] } },
      }),
    )) as McpServer;
    const uid = created.metadata?.uid;
    const dep = await eventually('the Deployment', () =>
      apps.readNamespacedDeployment({ namespace: NS, name: 'github' }),
    );
    assert.equal(dep.metadata?.ownerReferences?.[0]?.uid, uid);
    assert.ok(
      logs.some((l) => l.includes('leading: starting the MCPServer controller')),
      logs.join('\n'),
    );
    assert.equal(dep.spec?.template.metadata?.labels?.['tessera.dev/inject'], 'true');
    const svc = await eventually('the Service', () =>
      core.readNamespacedService({ namespace: NS, name: 'github' }),
    );
    assert.equal(svc.spec?.ports?.[0]?.targetPort, 'mcp-proxy');
    assert.equal(svc.metadata?.ownerReferences?.[0]?.uid, uid);
    const np = await eventually('the NetworkPolicy', () =>
      net.readNamespacedNetworkPolicy({ namespace: NS, name: 'github' }),
    );
    assert.deepEqual(
      np.spec?.ingress?.map((r) => r.ports?.map((p) => `${p.protocol}/${p.port}`)),
      [['TCP/mcp-proxy']],
    );
    assert.deepEqual(np.spec?.podSelector?.matchLabels, { 'tessera.dev/server': 'github' });
    const sa = await eventually('the ServiceAccount', () =>
      core.readNamespacedServiceAccount({ namespace: NS, name: 'tessera-github' }),
    );
    assert.equal(sa.automountServiceAccountToken, false);

    const withStatus = await eventually('status', async () => {
      const s = await get('github');
      return s.status?.conditions?.some((c) => c.type === 'Reconciled' && c.status === 'True')
        ? s
        : undefined;
    });
    assert.equal(withStatus.status?.endpoint, 'http://github.tools.svc.cluster.local/mcp');
    assert.equal(withStatus.status?.observedGeneration, withStatus.metadata?.generation);
    assert.equal(withStatus.status?.upstream, 'container');
    // No controller manager runs here, so the Deployment never gets available replicas.
    const ready = withStatus.status?.conditions?.find((c) => c.type === 'Ready');
    assert.deepEqual([ready?.status, ready?.reason], ['False', 'Unavailable']);
    assert.ok(withStatus.metadata?.finalizers?.includes('tessera.dev/cleanup'));
    // `kubectl get mcps` shows the printer columns: the upstream kind, Ready and the endpoint.
    const table = await httpsGet(
      `${kube.url}/apis/tessera.dev/v1alpha1/namespaces/${NS}/mcpservers`,
      kube.adminToken,
      kube.caPem,
      {
        accept: 'application/json;as=Table;v=v1;g=meta.k8s.io',
      },
    );
    const { columnDefinitions, rows } = JSON.parse(table.body) as {
      columnDefinitions: { name: string }[];
      rows: { cells: unknown[] }[];
    };
    assert.deepEqual(
      columnDefinitions.map((c) => c.name),
      ['Name', 'Upstream', 'Ready', 'Replicas', 'Endpoint', 'Age'],
    );
    assert.deepEqual(rows[0]?.cells.slice(0, 3), ['github', 'container', 'False']);
    assert.equal(rows[0]?.cells[4], 'http://github.tools.svc.cluster.local/mcp');
    // Registered for the mesh: the proxies of this server get its resource URI, upstream and grants.
    const row = await registry.get('github');
    assert.equal(row?.kind, 'http');
    assert.equal(row?.url, 'http://127.0.0.1:8081/mcp');
    assert.equal(row?.resourceUri, 'http://github.tools.svc.cluster.local/mcp');
    assert.deepEqual(row?.grantGroups, ['engineering']);
  });

  test('drift is corrected: a hand edit is put back and a deleted object comes back', async () => {
    await core.patchNamespacedService({
      namespace: NS,
      name: 'github',
      body: [{ op: 'replace', path: '/spec/ports/0/targetPort', value: 8081 }],
    });
    await eventually('the targetPort restored', async () => {
      const svc = await core.readNamespacedService({ namespace: NS, name: 'github' });
      return svc.spec?.ports?.[0]?.targetPort === 'mcp-proxy';
    });
    await net.deleteNamespacedNetworkPolicy({ namespace: NS, name: 'github' });
    await eventually('the NetworkPolicy recreated', () =>
      net.readNamespacedNetworkPolicy({ namespace: NS, name: 'github' }),
    );
  });

  test('a spec change rolls through to the Deployment and observedGeneration', async () => {
    await custom.patchNamespacedCustomObject({
      ...CR,
      name: 'github',
      body: [{ op: 'replace', path: '/spec/replicas', value: 3 }],
    });
    await eventually('3 replicas', async () => {
      const dep = await apps.readNamespacedDeployment({ namespace: NS, name: 'github' });
      return dep.spec?.replicas === 3;
    });
    await eventually('observedGeneration caught up', async () => {
      const s = await get('github');
      return s.status?.observedGeneration === s.metadata?.generation;
    });
  });

  test('a remote server on HTTP+SSE gets an egress proxy told so; an unknown transport is refused', async () => {
    await assert.rejects(
      create(
        server('ws', { remote: { url: 'https://mcp.example.com/ws', transport: 'websocket' as 'sse' } }),
      ),
      (err: { code?: number; body?: unknown }) => {
        assert.equal(err.code, 422);
        assert.match(String(err.body), /transport/);
        return true;
      },
    );
    await create(server('legacy', { remote: { url: 'https://mcp.example.com/sse', transport: 'sse' } }));
    const proxy = await eventually('the egress Deployment', async () => {
      const dep = await apps
        .readNamespacedDeployment({ namespace: NS, name: 'legacy' })
        .catch(() => undefined);
      return dep?.spec?.template.spec?.containers[0];
    });
    const env = Object.fromEntries((proxy.env ?? []).map((e) => [e.name, e.value]));
    assert.equal(env.TESSERA_PROXY_MODE, 'egress');
    assert.equal(env.TESSERA_PROXY_UPSTREAM_URL, 'https://mcp.example.com/sse');
    assert.equal(env.TESSERA_PROXY_UPSTREAM_TRANSPORT, 'sse');
  });

  test('an object of the same name that someone else controls is not taken over', async () => {
    await core.createNamespacedService({
      namespace: NS,
      body: { metadata: { name: 'taken' }, spec: { ports: [{ port: 9 }] } },
    });
    await create(server('taken', { remote: { url: 'https://mcp.example.com/mcp' } }));
    const s = await eventually('a Conflict condition', async () => {
      const got = await get('taken');
      return got.status?.conditions?.find((c) => c.type === 'Reconciled' && c.reason === 'Conflict')
        ? got
        : undefined;
    });
    assert.match(s.status?.conditions?.find((c) => c.type === 'Reconciled')?.message ?? '', /not controlled/);
    const svc = await core.readNamespacedService({ namespace: NS, name: 'taken' });
    assert.equal(svc.spec?.ports?.[0]?.port, 9);
  });

  test('deleting the MCPServer deletes everything it owns, then the MCPServer itself', async () => {
    await custom.deleteNamespacedCustomObject({
      ...CR,
      name: 'github',
    });
    await eventually('the Deployment deleted', () =>
      gone(apps.readNamespacedDeployment({ namespace: NS, name: 'github' })),
    );
    await eventually('the Service deleted', () =>
      gone(core.readNamespacedService({ namespace: NS, name: 'github' })),
    );
    await eventually('the NetworkPolicy deleted', () =>
      gone(net.readNamespacedNetworkPolicy({ namespace: NS, name: 'github' })),
    );
    await eventually('the ServiceAccount deleted', () =>
      gone(core.readNamespacedServiceAccount({ namespace: NS, name: 'tessera-github' })),
    );
    await eventually('the MCPServer gone', () => gone(get('github')));
    assert.deepEqual((await registry.get('github'))?.grantGroups, []);
    // The Service that belonged to someone else survives its clashing MCPServer's deletion.
    await custom.deleteNamespacedCustomObject({
      ...CR,
      name: 'taken',
    });
    await eventually('the clashing MCPServer gone', () => gone(get('taken')));
    const svc = await core.readNamespacedService({ namespace: NS, name: 'taken' });
    assert.equal(svc.spec?.ports?.[0]?.port, 9);
  });

  test('one leader at a time: the second elector takes over when the first releases the Lease', async () => {
    const api = kc.makeApiClient(CoordinationV1Api);
    const events: string[] = [];
    const elector = (id: string) =>
      startLeaderElector({
        api,
        namespace: NS,
        name: 'tessera-controller',
        identity: id,
        leaseDurationSeconds: 15,
        renewIntervalMs: 200,
        retryIntervalMs: 200,
        onStartedLeading: () => events.push(`${id} leads`),
        onStoppedLeading: () => events.push(`${id} stops`),
      });
    const a = elector('a');
    await eventually('a leads', async () => a.isLeader());
    const b = elector('b');
    // b retries several times while a renews; it must not lead meanwhile.
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(b.isLeader(), false);
    }
    await a.close();
    await eventually('b leads after a released', async () => b.isLeader());
    await b.close();
    assert.deepEqual(events, ['a leads', 'a stops', 'b leads', 'b stops']);
    const lease = await api.readNamespacedLease({ namespace: NS, name: 'tessera-controller' });
    assert.equal(lease.spec?.holderIdentity, '');
    assert.equal(lease.spec?.leaseTransitions, 1);
  });
});
