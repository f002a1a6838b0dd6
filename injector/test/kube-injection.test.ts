/**
 * The injector against a real kube-apiserver: the API server calls the webhook over HTTPS, applies its
 * patch and validates the result, so the stored pods show what a cluster would run. No scheduler runs,
 * so the pods stay Pending; only the stored objects matter here.
 *
 * 1. Start the API server (the e2e harness) and the injector in this process, in self-signed mode.
 * 2. Register the webhook by URL without a caBundle; the injector writes it and becomes ready.
 * 3. Create pods in an enabled namespace, an unlabeled one, with the opt-out and with the pod label.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AdmissionregistrationV1Api, CoreV1Api, KubeConfig, type V1Pod } from '@kubernetes/client-node';
import { type KubeApiServer, kubeSkip, startKubeApiServer } from '../../e2e/kube/index.ts';
import { readConfig } from '../src/config.ts';
import { injectPod } from '../src/inject.ts';
import type { Injector } from '../src/injector.ts';
import { startInjector } from '../src/injector.ts';
import { goldenCases, goldenSidecar } from './helpers/golden-cases.ts';

const WEBHOOK = 'tessera-injector-e2e';
const SYSTEM_NS = 'tessera-system';
let kube: KubeApiServer;
let injector: Injector;
let core: CoreV1Api;
let admission: AdmissionregistrationV1Api;
const logs: Record<string, unknown>[] = [];
const INJECTOR_ENV = {
  TESSERA_INJECTOR_NAMESPACE: SYSTEM_NS,
  TESSERA_INJECTOR_HOST: '127.0.0.1',
  TESSERA_INJECTOR_WEBHOOK_NAME: WEBHOOK,
  TESSERA_INJECTOR_EXTRA_HOSTS: '127.0.0.1',
  TESSERA_PROXY_IMAGE: 'registry.example/tessera/proxy:e2e',
  TESSERA_MESH_ADDRESS: 'http://tessera-mesh.tessera-system.svc:15010',
};

async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function namespace(name: string, labels: Record<string, string>): Promise<void> {
  await core.createNamespace({ body: { metadata: { name, labels } } });
  // No controller-manager runs, so nobody creates the default service account the pods need.
  await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'default' } } });
}

function mcpPod(
  name: string,
  extra: { labels?: Record<string, string>; annotations?: Record<string, string> } = {},
): V1Pod {
  return {
    metadata: {
      name,
      labels: { 'tessera.dev/server': 'files', ...extra.labels },
      ...(extra.annotations ? { annotations: extra.annotations } : {}),
    },
    spec: {
      containers: [
        {
          name: 'files',
          image: 'example.invalid/files-mcp:1',
          ports: [{ name: 'mcp', containerPort: 8080 }],
        },
      ],
    },
  };
}

async function create(ns: string, pod: V1Pod): Promise<V1Pod> {
  await core.createNamespacedPod({ namespace: ns, body: pod });
  return core.readNamespacedPod({ namespace: ns, name: pod.metadata!.name! });
}

function proxyOf(pod: V1Pod) {
  return [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])].find(
    (c) => c.name === 'tessera-proxy',
  );
}

describe('the injector on a real kube-apiserver', { skip: kubeSkip(), timeout: 300_000 }, () => {
  before(async () => {
    kube = await startKubeApiServer();
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kube.kubeconfigPath);
    core = kubeConfig.makeApiClient(CoreV1Api);
    admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    await core.createNamespace({ body: { metadata: { name: SYSTEM_NS } } });
    await namespace('mcp-enabled', { 'tessera.dev/injection': 'enabled' });
    await namespace('plain', {});

    const config = readConfig(INJECTOR_ENV, () => '');
    injector = await startInjector({ config: { ...config, port: 0 }, kubeConfig, log: (e) => logs.push(e) });
    assert.equal(injector.ready(), false, 'not ready before the webhook configuration exists');

    await admission.createMutatingWebhookConfiguration({
      body: {
        metadata: { name: WEBHOOK },
        webhooks: [
          {
            name: 'inject.tessera.dev',
            clientConfig: { url: `${injector.url}/mutate` },
            rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['pods'] }],
            admissionReviewVersions: ['v1'],
            sideEffects: 'None',
            failurePolicy: 'Fail',
            reinvocationPolicy: 'Never',
            timeoutSeconds: 10,
            namespaceSelector: {
              matchExpressions: [
                { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', SYSTEM_NS] },
              ],
            },
          },
        ],
      },
    });
    await waitFor('the injector to write the caBundle', () => injector.ready());
  });

  after(async () => {
    await injector?.close();
    await kube?.stop();
  });

  test('the caBundle in the webhook configuration is the CA stored in the shared Secret', async () => {
    const secret = await core.readNamespacedSecret({ namespace: SYSTEM_NS, name: 'tessera-injector-tls' });
    const config = await admission.readMutatingWebhookConfiguration({ name: WEBHOOK });
    assert.equal(config.webhooks?.[0]?.clientConfig.caBundle, secret.data?.['ca.crt']);
  });

  test('a pod in an injection-enabled namespace is stored with the proxy injected', async () => {
    const pod = await create('mcp-enabled', mcpPod('files-1'));
    const proxy = proxyOf(pod);
    assert.ok(proxy, 'the stored pod has the proxy');
    assert.match(pod.metadata?.annotations?.['tessera.dev/injected'] ?? '', /^[0-9a-f]{16}$/);
    assert.equal(proxy.image, 'registry.example/tessera/proxy:e2e');
    assert.deepEqual(
      proxy.ports?.map((p) => [p.name, p.containerPort]),
      [['mcp-proxy', 15001]],
    );
    const env = Object.fromEntries(
      (proxy.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]),
    );
    assert.equal(env.TESSERA_PROXY_SERVER, "metadata.labels['tessera.dev/server']");
    assert.equal(env.TESSERA_PROXY_UPSTREAM_URL, 'http://127.0.0.1:8080/mcp');
    assert.equal(env.TESSERA_MESH_TOKEN_FILE, '/var/run/secrets/tessera.dev/mesh/token');
    const token = pod.spec?.volumes?.find((v) => v.name === 'tessera-mesh-token');
    assert.equal(token?.projected?.sources?.[0]?.serviceAccountToken?.audience, 'tessera-mesh');
    assert.deepEqual(
      pod.spec?.containers.find((c) => c.name === 'files')?.ports?.map((p) => p.name),
      ['mcp-app'],
    );
    // The API server's version decided the layout; the stored pod must match it.
    if (injector.sidecar.nativeSidecar) {
      assert.equal(pod.spec?.initContainers?.[0]?.name, 'tessera-proxy');
      assert.equal(pod.spec?.initContainers?.[0]?.restartPolicy, 'Always');
    } else {
      assert.equal(pod.spec?.containers[0]?.name, 'tessera-proxy');
    }
  });

  test('a pod in an unlabeled namespace is untouched', async () => {
    const pod = await create('plain', mcpPod('files-2'));
    assert.equal(proxyOf(pod), undefined);
    assert.equal(pod.metadata?.annotations?.['tessera.dev/injected'], undefined);
    assert.deepEqual(
      pod.spec?.containers.map((c) => c.name),
      ['files'],
    );
  });

  test('the opt-out annotation leaves a pod in an enabled namespace untouched', async () => {
    const pod = await create(
      'mcp-enabled',
      mcpPod('files-3', { annotations: { 'tessera.dev/inject': 'false' } }),
    );
    assert.equal(proxyOf(pod), undefined);
    assert.deepEqual(
      pod.spec?.containers[0]?.ports?.map((p) => p.name),
      ['mcp'],
    );
  });

  test('the pod label opts a pod in where the namespace does not', async () => {
    const pod = await create('plain', mcpPod('files-4', { labels: { 'tessera.dev/inject': 'true' } }));
    assert.ok(proxyOf(pod));
  });

  test('a pod that asks but cannot be injected is admitted unchanged, and the reason is logged', async () => {
    const pod = await create('mcp-enabled', {
      metadata: { name: 'no-port' },
      spec: { containers: [{ name: 'job', image: 'example.invalid/job:1' }] },
    });
    assert.equal(proxyOf(pod), undefined);
    assert.ok(logs.some((l) => l.result === 'missing_server_label' || l.result === 'no_mcp_port'));
  });

  test('a second replica adopts the stored certificate instead of issuing another', async () => {
    const before = await core.readNamespacedSecret({ namespace: SYSTEM_NS, name: 'tessera-injector-tls' });
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(kube.kubeconfigPath);
    const config = readConfig(INJECTOR_ENV, () => '');
    const second = await startInjector({ config: { ...config, port: 0 }, kubeConfig, log: () => {} });
    try {
      assert.equal(second.ready(), true, 'the caBundle was already current');
      const afterwards = await core.readNamespacedSecret({
        namespace: SYSTEM_NS,
        name: 'tessera-injector-tls',
      });
      assert.equal(afterwards.metadata?.resourceVersion, before.metadata?.resourceVersion);
    } finally {
      await second.close();
    }
  });
  test('every injected golden pod, in both layouts, passes the API server validation', async () => {
    let n = 0;
    for (const c of goldenCases()) {
      for (const native of [true, false]) {
        const { decision, pod } = injectPod(c.pod, {
          namespaceLabels: c.namespaceLabels,
          sidecar: goldenSidecar(native),
        });
        if (!decision.inject) continue;
        const body = structuredClone(pod) as V1Pod;
        body.metadata = { ...body.metadata, name: `golden-${n++}`, namespace: 'plain' };
        delete body.metadata.generateName;
        // Only the default service account exists in the test namespace.
        if (body.spec) delete body.spec.serviceAccountName;
        // Created with dry run: the API server validates without storing, and the webhook sees a no-op.
        await core.createNamespacedPod({ namespace: 'plain', body, dryRun: 'All' });
      }
    }
    assert.ok(n >= 8, `only ${n} pods were checked`);
  });
});
