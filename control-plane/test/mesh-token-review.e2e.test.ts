/**
 * Kubernetes stream authentication against a real kube-apiserver: proxies present projected
 * service-account tokens (TokenRequest with audience `tessera-mesh`), and a control plane in
 * `kubernetes` mode checks them with TokenReview and maps the service account named after a server
 * (as the controller creates it) to that server.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Code, ConnectError } from '@connectrpc/connect';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type KubeApiServer, kubeSkip, startKubeApiServer } from '../../e2e/kube/index.ts';
import { openStream, TYPE_URLS } from './helpers/mesh-client.ts';
import { type Replica, registerServer, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

describe('mesh streams authenticated by TokenReview', { skip: kubeSkip(), timeout: 300_000 }, () => {
  let kube: KubeApiServer;
  let core: CoreV1Api;
  let db: TestDb;
  let replica: Replica;

  async function saToken(namespace: string, name: string, audiences = ['tessera-mesh']): Promise<string> {
    const tr = await core.createNamespacedServiceAccountToken({
      name,
      namespace,
      body: { spec: { audiences, expirationSeconds: 600 } },
    });
    return tr.status!.token!;
  }

  /** Opens a stream with `token` claiming `node`; resolves with the first response's type or the error code. */
  async function attempt(token: string, node: Record<string, string>): Promise<string> {
    const s = openStream(replica.meshUrl, token);
    try {
      s.send({ node: { id: 'k', role: 'sidecar', ...node }, typeUrl: TYPE_URLS[0]! });
      return (await s.next()).typeUrl.split('.').pop()!;
    } catch (err) {
      return Code[ConnectError.from(err).code]!;
    } finally {
      s.close();
    }
  }

  before(async () => {
    kube = await startKubeApiServer();
    const kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfigPath);
    core = kc.makeApiClient(CoreV1Api);
    for (const ns of ['team-a', 'team-b']) await core.createNamespace({ body: { metadata: { name: ns } } });
    for (const name of ['tessera-kube', 'tessera-probe']) {
      await core.createNamespacedServiceAccount({ namespace: 'team-a', body: { metadata: { name } } });
    }
    await core.createNamespacedServiceAccount({
      namespace: 'team-b',
      body: { metadata: { name: 'tessera-kube' } },
    });
    db = await startTestDb();
    // The control plane finds the cluster the way it would outside one: through KUBECONFIG.
    process.env.KUBECONFIG = kube.kubeconfigPath;
    replica = await startReplica(db, {
      TESSERA_MESH_AUTH: 'kubernetes',
      TESSERA_MESH_K8S_NAMESPACES: 'team-a',
    });
    await registerServer(replica.cp, 'kube', 'https://kube.test/mcp');
  });

  after(async () => {
    delete process.env.KUBECONFIG;
    await replica?.close();
    await db?.stop();
    await kube?.stop();
  });

  test('the service account tessera-<server> is served that server', async () => {
    const token = await saToken('team-a', 'tessera-kube');
    assert.equal(
      await attempt(token, { mcpServer: 'kube', namespace: 'team-a', serviceAccount: 'tessera-kube' }),
      'TrustBundle',
    );
  });

  test('claiming another server, namespace or service account is PERMISSION_DENIED', async () => {
    const token = await saToken('team-a', 'tessera-kube');
    assert.equal(await attempt(token, { mcpServer: 'other' }), 'PermissionDenied');
    assert.equal(await attempt(token, { mcpServer: 'kube', namespace: 'team-b' }), 'PermissionDenied');
    assert.equal(
      await attempt(token, { mcpServer: 'kube', serviceAccount: 'tessera-probe' }),
      'PermissionDenied',
    );
  });

  test("another server's service account, or one outside the allowed namespaces, is PERMISSION_DENIED", async () => {
    assert.equal(
      await attempt(await saToken('team-a', 'tessera-probe'), { mcpServer: 'kube' }),
      'PermissionDenied',
    );
    assert.equal(
      await attempt(await saToken('team-b', 'tessera-kube'), { mcpServer: 'kube' }),
      'PermissionDenied',
    );
  });

  test('a token for another audience, or a forged one, is UNAUTHENTICATED', async () => {
    const other = await saToken('team-a', 'tessera-kube', ['https://kubernetes.default.svc']);
    assert.equal(await attempt(other, { mcpServer: 'kube' }), 'Unauthenticated');
    const [h, p] = (await saToken('team-a', 'tessera-kube')).split('.');
    assert.equal(await attempt(`${h}.${p}.Zm9yZ2Vk`, { mcpServer: 'kube' }), 'Unauthenticated');
  });
});
