/**
 * JSON schemas for kubeconform, made from the OpenAPI document of a running API server (with our CRDs
 * installed), so that rendered manifests are validated against exactly the Kubernetes version the
 * tests run, with no schema download. The layout is kubeconform's: one `<kind>-<group>-<version>.json`
 * per kind (`-schema-location '<dir>/{{ .ResourceKind }}{{ .KindSuffix }}.json'`), each referring to
 * a shared `_definitions.json`.
 *
 * The conversion does what openapi2jsonschema does in strict mode:
 * - `int-or-string` becomes `oneOf: [string, integer]`, and a Quantity also accepts a number;
 * - every object with declared properties gets `additionalProperties: false` (a misspelt field is an
 *   error), except where Kubernetes keeps unknown fields.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeApiServer } from './api-server.ts';
import { httpsGet } from './https-get.ts';

type Schema = Record<string, unknown>;
const INT_OR_STRING = { oneOf: [{ type: 'string' }, { type: 'integer' }] };

function convert(node: unknown, toDefinitions: string): unknown {
  if (Array.isArray(node)) return node.map((n) => convert(n, toDefinitions));
  if (typeof node !== 'object' || node === null) return node;
  const s = node as Schema;
  if (s.format === 'int-or-string' || s['x-kubernetes-int-or-string'] === true) {
    const { type: _t, format: _f, 'x-kubernetes-int-or-string': _x, ...rest } = s;
    return { ...convertProps(rest, toDefinitions), ...INT_OR_STRING };
  }
  const out = convertProps(s, toDefinitions);
  if (
    out.properties &&
    out.additionalProperties === undefined &&
    out['x-kubernetes-preserve-unknown-fields'] !== true
  ) {
    out.additionalProperties = false;
  }
  return out;
}

function convertProps(s: Schema, toDefinitions: string): Schema {
  const out: Schema = {};
  for (const [k, v] of Object.entries(s)) {
    if (k === '$ref' && typeof v === 'string')
      out[k] = v.replace('#/definitions/', `${toDefinitions}#/definitions/`);
    else out[k] = convert(v, toDefinitions);
  }
  return out;
}

/** Writes the schemas into `dir` and returns the `-schema-location` template for kubeconform. */
export async function writeKubeconformSchemas(kube: KubeApiServer, dir: string): Promise<string> {
  const res = await httpsGet(`${kube.url}/openapi/v2`, kube.adminToken, kube.caPem);
  if (res.status !== 200) throw new Error(`GET /openapi/v2: ${res.status}`);
  const definitions = (JSON.parse(res.body) as { definitions: Record<string, Schema> }).definitions;
  definitions['io.k8s.apimachinery.pkg.api.resource.Quantity'] = {
    oneOf: [{ type: 'string' }, { type: 'number' }],
  };
  await mkdir(dir, { recursive: true });
  const shared: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(definitions)) shared[name] = convert(def, '');
  await writeFile(join(dir, '_definitions.json'), JSON.stringify({ definitions: shared }));
  for (const def of Object.values(definitions)) {
    const gvks = def['x-kubernetes-group-version-kind'] as
      | { group: string; version: string; kind: string }[]
      | undefined;
    for (const { group, version, kind } of gvks ?? []) {
      const suffix = group ? `-${group.split('.')[0]}-${version}` : `-${version}`;
      await writeFile(
        join(dir, `${kind.toLowerCase()}${suffix}.json`),
        JSON.stringify(convert(def, '_definitions.json')),
      );
    }
  }
  return `${dir}/{{ .ResourceKind }}{{ .KindSuffix }}.json`;
}
