import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goldenSidecar } from '../test/helpers/golden-cases.ts';
import { InvalidReviewError, parseReview, review } from './admission.ts';
import type { JsonValue, PatchOperation } from './json-patch.ts';
import { applyPatch } from './json-patch.ts';

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'p', labels: { 'tessera.dev/server': 'files' } },
  spec: { containers: [{ name: 'app', image: 'app:1', ports: [{ name: 'mcp', containerPort: 8080 }] }] },
};

function admissionReview(request: Record<string, unknown>) {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'mcp',
      operation: 'CREATE',
      object: pod,
      ...request,
    },
  };
}

const enabled = async () => ({ 'tessera.dev/injection': 'enabled' });
const sidecar = goldenSidecar(true);

test('a pod creation in an enabled namespace is answered with a base64 JSON Patch that injects', async () => {
  const { body, result } = await review(parseReview(admissionReview({})), enabled, sidecar);
  assert.equal(result, 'injected');
  assert.equal(body.response.uid, 'u-1');
  assert.equal(body.response.allowed, true);
  assert.equal(body.response.patchType, 'JSONPatch');
  const patch = JSON.parse(Buffer.from(body.response.patch!, 'base64').toString()) as PatchOperation[];
  const stored = applyPatch(pod as unknown as JsonValue, patch) as typeof pod & {
    spec: { initContainers: { name: string }[] };
  };
  assert.equal(stored.spec.initContainers[0]!.name, 'tessera-proxy');
});

test('a skipped pod is allowed unchanged; problems become warnings, quiet reasons do not', async () => {
  const quiet = await review(parseReview(admissionReview({})), async () => ({}), sidecar);
  assert.deepEqual(quiet.body.response, { uid: 'u-1', allowed: true });
  assert.equal(quiet.result, 'not_enabled');
  const noPort = { ...pod, spec: { containers: [{ name: 'app', image: 'app:1' }] } };
  const loud = await review(parseReview(admissionReview({ object: noPort })), enabled, sidecar);
  assert.equal(loud.body.response.allowed, true);
  assert.equal(loud.body.response.patch, undefined);
  assert.match(loud.body.response.warnings?.[0] ?? '', /^tessera proxy not injected: no_mcp_port: /);
});

test('other operations, resources and subresources pass unchanged without reading the namespace', async () => {
  const failing = async () => {
    throw new Error('must not be called');
  };
  for (const request of [
    { operation: 'UPDATE', oldObject: pod },
    { resource: { group: 'apps', version: 'v1', resource: 'deployments' }, object: {} },
    { subResource: 'ephemeralcontainers' },
  ]) {
    const { body, result } = await review(parseReview(admissionReview(request)), failing, sidecar);
    assert.deepEqual(body.response, { uid: 'u-1', allowed: true });
    assert.equal(result, 'not_a_pod_create');
  }
});

test('a namespace that cannot be read denies the pod with a 500 status naming the cause', async () => {
  const broken = async () => {
    throw new Error('connection refused');
  };
  const { body, result } = await review(parseReview(admissionReview({})), broken, sidecar);
  assert.equal(result, 'error');
  assert.equal(body.response.allowed, false);
  assert.equal(body.response.status?.code, 500);
  assert.match(body.response.status?.message ?? '', /cannot read namespace "mcp": connection refused/);
});

test('malformed reviews are rejected with the field that is wrong', () => {
  const cases: [unknown, RegExp][] = [
    [null, /JSON object/],
    [[], /JSON object/],
    [
      { ...admissionReview({}), apiVersion: 'admission.k8s.io/v1beta1' },
      /apiVersion must be admission.k8s.io\/v1/,
    ],
    [{ ...admissionReview({}), kind: 'Pod' }, /kind must be AdmissionReview/],
    [{ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }, /request must be an object/],
    [admissionReview({ uid: '' }), /request.uid/],
    [admissionReview({ uid: 7 }), /request.uid/],
    [admissionReview({ operation: null }), /request.operation/],
    [admissionReview({ namespace: 3 }), /request.namespace/],
    [admissionReview({ resource: 'pods' }), /request.resource/],
    [admissionReview({ object: 'pod' }), /request.object/],
  ];
  for (const [body, message] of cases) {
    assert.throws(
      () => parseReview(body),
      (err: unknown) => err instanceof InvalidReviewError && message.test((err as Error).message),
    );
  }
});
