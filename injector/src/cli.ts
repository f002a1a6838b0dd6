/**
 * `node injector/src/cli.ts -f pod.yaml [--namespace-label k=v]… [--no-native-sidecar]`: prints the
 * pod as the webhook would store it (the same core), or the reason it is left alone on stderr.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { parse, stringify } from 'yaml';
import { explain } from './decide.ts';
import { injectPod } from './inject.ts';

const { values } = parseArgs({
  options: {
    file: { type: 'string', short: 'f' },
    'namespace-label': { type: 'string', multiple: true, default: [] },
    'no-native-sidecar': { type: 'boolean', default: false },
    image: { type: 'string', default: process.env.TESSERA_PROXY_IMAGE ?? 'tessera-proxy:latest' },
    mesh: {
      type: 'string',
      default: process.env.TESSERA_MESH_ADDRESS ?? 'http://tessera-mesh.tessera-system.svc:15010',
    },
  },
});
if (!values.file) {
  process.stderr.write('usage: cli.ts -f pod.yaml [--namespace-label key=value]… [--no-native-sidecar]\n');
  process.exit(2);
}
const namespaceLabels: Record<string, string> = {};
for (const pair of values['namespace-label']) {
  const eq = pair.indexOf('=');
  if (eq <= 0) {
    process.stderr.write(`--namespace-label "${pair}" must be key=value\n`);
    process.exit(2);
  }
  namespaceLabels[pair.slice(0, eq)] = pair.slice(eq + 1);
}
const pod: unknown = parse(readFileSync(values.file === '-' ? 0 : values.file, 'utf8'));
const result = injectPod(pod, {
  namespaceLabels,
  sidecar: {
    proxyImage: values.image,
    meshAddress: values.mesh,
    nativeSidecar: !values['no-native-sidecar'],
  },
});
if (!result.decision.inject) process.stderr.write(`not injected: ${explain(result.decision)}\n`);
process.stdout.write(stringify(result.pod, { lineWidth: 0 }));
