/**
 * The CRDs' schemas and CEL rules, enforced by a real API server: every document in
 * `crds/testdata/<kind>_valid.yaml` is accepted and every one in `<kind>_invalid.yaml` is rejected
 * with the error its `test.tessera.dev/error` annotation names.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { CoreV1Api, CustomObjectsApi, KubeConfig, loadAllYaml } from '@kubernetes/client-node';
import { type KubeApiServer, startKubeApiServer } from './api-server.ts';
import { kubeSkip } from './binaries.ts';
import { CRDS_DIR, installCrds } from './crds.ts';

const TESTDATA = new URL('testdata/', CRDS_DIR);
const NS = 'crd-checks';

describe('CRD validation on a real API server', { skip: kubeSkip(), timeout: 300_000 }, () => {
  let kube: KubeApiServer;
  let custom: CustomObjectsApi;
  const plurals = new Map<string, string>();
  before(async () => {
    kube = await startKubeApiServer();
    const kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfigPath);
    for (const crd of await installCrds(kc)) plurals.set(crd.spec.names.kind, crd.spec.names.plural);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: NS } } });
    custom = kc.makeApiClient(CustomObjectsApi);
  });
  after(() => kube?.stop());

  for (const file of readdirSync(TESTDATA).filter((f) => f.endsWith('.yaml'))) {
    const valid = file.endsWith('_valid.yaml');
    for (const doc of loadAllYaml(readFileSync(new URL(file, TESTDATA), 'utf8'))) {
      test(`${file}: ${doc.metadata.name} is ${valid ? 'accepted' : 'rejected'}`, async () => {
        const [group, version] = (doc.apiVersion as string).split('/') as [string, string];
        // Strict field validation, as kubectl does by default: unknown fields are errors.
        const attempt = custom.createNamespacedCustomObject({
          group,
          version,
          namespace: NS,
          plural: plurals.get(doc.kind) as string,
          body: doc,
          dryRun: 'All',
          fieldValidation: 'Strict',
        });
        if (valid) {
          await attempt;
          return;
        }
        const expected = doc.metadata.annotations['test.tessera.dev/error'] as string;
        await assert.rejects(attempt, (err: { code?: number; body?: string }) => {
          assert.ok(err.code === 422 || err.code === 400, `status ${err.code}: ${err.body}`);
          const message = (JSON.parse(String(err.body)) as { message: string }).message;
          assert.ok(message.includes(expected), `expected "${expected}" in ${message}`);
          return true;
        });
      });
    }
  }
});
