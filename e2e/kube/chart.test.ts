/**
 * The Helm chart: `helm lint` is clean; each `charts/testdata/tessera/<case>.values.yaml` renders to
 * `<case>.golden.yaml` (UPDATE_GOLDEN=1 rewrites) and that output passes kubeconform in strict mode
 * against schemas taken from a real API server with our CRDs installed; each `<case>.invalid.yaml` is
 * refused with the error named on its first line.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig, KubernetesObjectApi, loadAllYaml } from '@kubernetes/client-node';
import { type KubeApiServer, startKubeApiServer } from './api-server.ts';
import { kubeBinary, kubeSkip, kubeVersion } from './binaries.ts';
import { installCrds } from './crds.ts';
import { writeKubeconformSchemas } from './kubeconform-schemas.ts';

const run = promisify(execFile);
const CHART = new URL('../../charts/tessera', import.meta.url).pathname;
const CASES = new URL('../../charts/testdata/tessera/', import.meta.url);
const files = await readdir(CASES);

function helm(...args: string[]) {
  return run(kubeBinary('helm'), args, {
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, HELM_CACHE_HOME: tmpdir() },
  });
}
const template = (valuesFile: string) =>
  helm(
    'template',
    'tessera',
    CHART,
    '--namespace',
    'tessera',
    '--kube-version',
    kubeVersion(),
    '-f',
    valuesFile,
  );

describe('the Helm chart', {
  skip: kubeSkip(['kube-apiserver', 'etcd', 'helm', 'kubeconform']),
  timeout: 300_000,
}, () => {
  let kube: KubeApiServer;
  let work: string;
  let schemaLocation: string;
  let objects: KubernetesObjectApi;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'tessera-chart-'));
    kube = await startKubeApiServer();
    const kc = new KubeConfig();
    kc.loadFromFile(kube.kubeconfigPath);
    await installCrds(kc);
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: 'tessera' } } });
    objects = KubernetesObjectApi.makeApiClient(kc);
    // The API server publishes CRD schemas in /openapi/v2 shortly after they are Established.
    for (let i = 0; ; i++) {
      schemaLocation = await writeKubeconformSchemas(kube, join(work, 'schemas'));
      if ((await readdir(join(work, 'schemas'))).includes('mcpserver-tessera-v1alpha1.json')) break;
      if (i > 100) throw new Error('the MCPServer schema never appeared in /openapi/v2');
      await new Promise((r) => setTimeout(r, 200));
    }
  });
  after(async () => {
    await kube?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  test('helm lint reports no warning or error', async () => {
    const { stdout } = await helm('lint', CHART, '--strict', '--kube-version', kubeVersion());
    assert.doesNotMatch(stdout, /\[(WARNING|ERROR)\]/);
    assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
  });

  for (const file of files.filter((f) => f.endsWith('.values.yaml'))) {
    const name = file.replace('.values.yaml', '');
    test(`${name}: renders to its golden file and passes kubeconform`, async () => {
      const { stdout } = await template(new URL(file, CASES).pathname);
      const golden = new URL(`${name}.golden.yaml`, CASES);
      if (process.env.UPDATE_GOLDEN) await writeFile(golden, stdout);
      assert.equal(
        stdout,
        await readFile(golden, 'utf8'),
        `stale golden ${name}.golden.yaml (UPDATE_GOLDEN=1 rewrites)`,
      );
      const rendered = join(work, `${name}.yaml`);
      await writeFile(rendered, stdout);
      // cert-manager's Certificate is the one kind whose schema this API server cannot know.
      const kc = await run(
        kubeBinary('kubeconform'),
        [
          '-strict',
          '-summary',
          '-output',
          'json',
          '-schema-location',
          schemaLocation,
          '-skip',
          'Certificate',
          rendered,
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      ).catch((err: { stdout?: string }) => assert.fail(`kubeconform rejected ${name}: ${err.stdout}`));
      const summary = JSON.parse(kc.stdout).summary as {
        valid: number;
        invalid: number;
        errors: number;
        skipped: number;
      };
      assert.equal(summary.invalid + summary.errors, 0);
      assert.ok(summary.valid >= 5, `only ${summary.valid} resources validated`);
      // The API server's own validation goes further than the schemas (webhook configurations, RBAC
      // rules, selectors): every object must pass a server-side dry run.
      for (const doc of loadAllYaml(stdout).filter((d) => d && d.kind !== 'Certificate')) {
        await objects
          .create(doc, undefined, 'All')
          .catch((err: { body?: string }) =>
            assert.fail(`${doc.kind} ${doc.metadata?.name} refused by the API server: ${err.body}`),
          );
      }
    });
  }

  for (const file of files.filter((f) => f.endsWith('.invalid.yaml'))) {
    test(`${file} is refused`, async () => {
      const path = new URL(file, CASES).pathname;
      const expected = (await readFile(path, 'utf8')).split('\n')[0]!.replace(/^# error: /, '');
      await assert.rejects(template(path), (err: { stderr?: string }) => {
        assert.ok(err.stderr?.includes(expected), `expected "${expected}" in ${err.stderr}`);
        return true;
      });
    });
  }

  test('kubeconform fails a manifest with a misspelt field (the schemas are strict)', async () => {
    const bad = join(work, 'bad.yaml');
    await writeFile(
      bad,
      'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{port: 80, targetPrt: http}]\n',
    );
    await assert.rejects(
      run(kubeBinary('kubeconform'), ['-strict', '-schema-location', schemaLocation, bad]),
      (err: { stdout?: string }) => /targetPrt/.test(String(err.stdout)),
    );
  });
});
