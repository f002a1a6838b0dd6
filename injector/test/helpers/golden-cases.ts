/**
 * The golden cases: `golden/<case>.in.yaml` holds the namespace's labels, the cluster's sidecar mode
 * and the pod; `golden/<case>.out.yaml` the decision and the stored pod. Cases are discovered.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import type { SidecarConfig } from '../../src/render.ts';

export const GOLDEN_DIR = join(import.meta.dirname, '..', 'golden');

export interface GoldenCase {
  name: string;
  namespaceLabels: Record<string, string>;
  nativeSidecar: boolean;
  pod: unknown;
}

/** The injector settings every golden is rendered with. */
export function goldenSidecar(nativeSidecar: boolean): SidecarConfig {
  return {
    proxyImage: 'registry.example/tessera/proxy:0.1.0',
    meshAddress: 'http://tessera-mesh.tessera-system.svc:15010',
    nativeSidecar,
  };
}

export function goldenCases(): GoldenCase[] {
  return readdirSync(GOLDEN_DIR)
    .filter((f) => f.endsWith('.in.yaml'))
    .sort()
    .map((file) => {
      const doc = parse(readFileSync(join(GOLDEN_DIR, file), 'utf8')) as Partial<GoldenCase>;
      return {
        name: file.slice(0, -'.in.yaml'.length),
        namespaceLabels: doc.namespaceLabels ?? {},
        nativeSidecar: doc.nativeSidecar ?? true,
        pod: doc.pod,
      };
    });
}
