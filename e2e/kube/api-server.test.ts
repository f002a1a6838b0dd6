import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AuthenticationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { type KubeApiServer, startKubeApiServer } from './api-server.ts';
import { kubeSkip } from './binaries.ts';

describe('the kube-apiserver harness', { skip: kubeSkip(), timeout: 300_000 }, () => {
  let kube: KubeApiServer;
  let kc: KubeConfig;
  before(async () => {
    kube = await startKubeApiServer();
    kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfigPath);
  });
  after(() => kube?.stop());

  test('serves the API to the admin over TLS signed by the returned CA', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespace({ body: { metadata: { name: 'smoke' } } });
    const ns = await core.readNamespace({ name: 'smoke' });
    assert.equal(ns.metadata?.name, 'smoke');
    assert.match(kube.caPem, /BEGIN CERTIFICATE/);
  });

  test('issues service-account tokens (TokenRequest) and reviews them (TokenReview)', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedServiceAccount({ namespace: 'smoke', body: { metadata: { name: 'probe' } } });
    const tr = await core.createNamespacedServiceAccountToken({
      name: 'probe',
      namespace: 'smoke',
      body: { spec: { audiences: ['tessera-mesh'], expirationSeconds: 600 } },
    });
    const token = tr.status?.token;
    assert.ok(token);
    const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
    assert.equal(claims.iss, kube.serviceAccountIssuer);
    const authn = kc.makeApiClient(AuthenticationV1Api);
    const ok = await authn.createTokenReview({ body: { spec: { token, audiences: ['tessera-mesh'] } } });
    assert.equal(ok.status?.authenticated, true);
    assert.equal(ok.status?.user?.username, 'system:serviceaccount:smoke:probe');
    const wrongAudience = await authn.createTokenReview({ body: { spec: { token, audiences: ['other'] } } });
    // `authenticated: false` is omitted from the JSON, hence not strictly false here.
    assert.notEqual(wrongAudience.status?.authenticated, true);
    assert.match(wrongAudience.status?.error ?? '', /audience/);
  });

  test('authorizes with RBAC: a service account without roles is forbidden', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const tr = await core.createNamespacedServiceAccountToken({
      name: 'probe',
      namespace: 'smoke',
      body: { spec: { expirationSeconds: 600 } },
    });
    const sa = new KubeConfig();
    sa.loadFromOptions({
      clusters: [{ name: 'c', server: kube.url, caData: Buffer.from(kube.caPem).toString('base64') }],
      users: [{ name: 'u', token: tr.status?.token }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    await assert.rejects(
      sa.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: 'smoke' }),
      (err: { code?: number }) => err.code === 403,
    );
  });
});
