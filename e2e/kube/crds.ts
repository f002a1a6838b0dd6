/**
 * Installs the repository's CustomResourceDefinitions (`crds/*.yaml`) into a test API server and
 * waits until each is Established, so that the next request can use the new kinds.
 *
 * @module
 */
import { readdir, readFile } from 'node:fs/promises';
import {
  ApiextensionsV1Api,
  type KubeConfig,
  loadAllYaml,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';

export const CRDS_DIR = new URL('../../crds/', import.meta.url);

/** The CRDs in `crds/`, parsed. */
export async function loadCrds(): Promise<V1CustomResourceDefinition[]> {
  const files = (await readdir(CRDS_DIR)).filter((f) => f.endsWith('.yaml')).sort();
  const docs = await Promise.all(
    files.map(async (f) => loadAllYaml(await readFile(new URL(f, CRDS_DIR), 'utf8'))),
  );
  return docs.flat().filter((d) => d?.kind === 'CustomResourceDefinition');
}

export async function installCrds(kc: KubeConfig, timeoutMs = 60_000): Promise<V1CustomResourceDefinition[]> {
  const api = kc.makeApiClient(ApiextensionsV1Api);
  const crds = await loadCrds();
  for (const body of crds) await api.createCustomResourceDefinition({ body });
  const deadline = Date.now() + timeoutMs;
  for (const crd of crds) {
    const name = crd.metadata?.name as string;
    for (;;) {
      const got = await api.readCustomResourceDefinition({ name });
      if (got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return crds;
}
