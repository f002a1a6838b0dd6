import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { dumpYaml, loadYaml } from '@kubernetes/client-node';
import type { McpServer } from './mcp-server.ts';
import { meshEndpoint, type RenderOptions, renderServer } from './render.ts';

const DIR = new URL('../../testdata/kubernetes/', import.meta.url);
const OPTIONS: RenderOptions = {
  proxyImage: 'ghcr.io/tessera/proxy:0.1.0',
  runnerImages: { node: 'ghcr.io/tessera/runner-node:0.1.0', python: 'ghcr.io/tessera/runner-python:0.1.0' },
  meshAddress: 'http://tessera-mesh.tessera.svc.cluster.local:15010',
  clusterDomain: 'cluster.local',
};

// Golden files: <case>.input.yaml renders to <case>.golden.yaml; UPDATE_GOLDEN=1 rewrites them.
for (const file of readdirSync(DIR).filter((f) => f.endsWith('.input.yaml'))) {
  const name = file.replace('.input.yaml', '');
  test(`render: ${name}`, () => {
    const server = loadYaml<McpServer>(readFileSync(new URL(file, DIR), 'utf8'));
    const r = renderServer(server, OPTIONS);
    const actual = [r.serviceAccount, r.deployment, r.service, r.networkPolicy]
      .map((o) => dumpYaml(o))
      .join('---\n');
    const golden = new URL(`${name}.golden.yaml`, DIR);
    if (process.env.UPDATE_GOLDEN) writeFileSync(golden, actual);
    assert.equal(
      actual,
      readFileSync(golden, 'utf8'),
      `stale golden ${name}.golden.yaml (UPDATE_GOLDEN=1 rewrites)`,
    );
  });
}

const base = (spec: McpServer['spec']): McpServer => ({
  apiVersion: 'tessera.dev/v1alpha1',
  kind: 'MCPServer',
  metadata: { name: 'srv', namespace: 'ns', uid: 'u-1' },
  spec,
});

test('the Service targets the proxy port by name and the NetworkPolicy opens only it', () => {
  for (const spec of [
    { container: { image: 'img' } },
    { stdio: { runtime: 'python' as const, command: 'uvx', args: ['mcp-server-time'] } },
    { remote: { url: 'https://example.com/mcp' } },
  ]) {
    const r = renderServer(base(spec), OPTIONS);
    assert.deepEqual(
      r.service.spec?.ports?.map((p) => p.targetPort),
      ['mcp-proxy'],
    );
    assert.deepEqual(r.networkPolicy.spec?.ingress, [{ ports: [{ protocol: 'TCP', port: 'mcp-proxy' }] }]);
    assert.deepEqual(r.deployment.spec?.selector.matchLabels, { 'tessera.dev/server': 'srv' });
    for (const o of Object.values(r)) {
      assert.equal(o.metadata?.ownerReferences?.[0]?.uid, 'u-1');
      assert.equal(o.metadata?.ownerReferences?.[0]?.controller, true);
    }
  }
});

test('only HTTP container servers are marked for injection; runner and egress pods opt out', () => {
  const http = renderServer(base({ container: { image: 'img' } }), OPTIONS).deployment.spec?.template
    .metadata;
  assert.equal(http?.labels?.['tessera.dev/inject'], 'true');
  assert.equal(http?.annotations?.['tessera.dev/mcp-path'], '/mcp');
  const stdio = renderServer(base({ stdio: { runtime: 'python', command: 'uvx' } }), OPTIONS).deployment.spec
    ?.template;
  assert.equal(stdio?.metadata?.annotations?.['tessera.dev/inject'], 'false');
  assert.equal(stdio?.spec?.containers[0]?.image, OPTIONS.runnerImages.python);
  const remote = renderServer(base({ remote: { url: 'https://example.com/mcp' } }), OPTIONS).deployment.spec
    ?.template.spec?.containers[0];
  assert.equal(remote?.image, OPTIONS.proxyImage);
  assert.ok(remote?.env?.some((e) => e.name === 'TESSERA_PROXY_MODE' && e.value === 'egress'));
  assert.ok(!remote?.env?.some((e) => e.name === 'TESSERA_PROXY_UPSTREAM_TRANSPORT'), 'Streamable HTTP');
  const sse = renderServer(base({ remote: { url: 'https://example.com/sse', transport: 'sse' } }), OPTIONS)
    .deployment.spec?.template.spec?.containers[0];
  assert.ok(sse?.env?.some((e) => e.name === 'TESSERA_PROXY_UPSTREAM_TRANSPORT' && e.value === 'sse'));
  assert.ok(
    sse?.env?.some((e) => e.name === 'TESSERA_PROXY_UPSTREAM_URL' && e.value === 'https://example.com/sse'),
  );
});

test('the pod runs as the service account the mesh maps to the server', () => {
  const r = renderServer(base({ container: { image: 'i' } }), OPTIONS);
  assert.equal(r.serviceAccount.metadata?.name, 'tessera-srv');
  assert.equal(r.deployment.spec?.template.spec?.serviceAccountName, 'tessera-srv');
});

test('the mesh endpoint is the Service hostname', () => {
  assert.equal(
    meshEndpoint(base({ container: { image: 'i' } }), 'corp.local'),
    'http://srv.ns.svc.corp.local/mcp',
  );
});

test('an MCPServer without a uid cannot be rendered (owner references need it)', () => {
  const s = base({ container: { image: 'i' } });
  delete s.metadata?.uid;
  assert.throws(() => renderServer(s, OPTIONS), /uid/);
});
