/**
 * Seeded fuzzing of the injector's core and its AdmissionReview parsing, from the golden pods.
 * Properties: nothing throws (except InvalidReviewError for a bad review), the patch applied to the
 * input yields exactly the injected pod, and injecting the result again changes nothing.
 * `TESSERA_FUZZ_RUNS` sets the number of iterations, `TESSERA_FUZZ_SEED` replays a seed.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidReviewError, parseReview, review } from '../src/admission.ts';
import { injectPod } from '../src/inject.ts';
import type { JsonValue } from '../src/json-patch.ts';
import { applyPatch } from '../src/json-patch.ts';
import { goldenCases, goldenSidecar } from './helpers/golden-cases.ts';
import type { Random } from './helpers/random.ts';
import { baseSeed, createRandom, mutateJson, randomJson } from './helpers/random.ts';

const runs = Number(process.env.TESSERA_FUZZ_RUNS ?? 3000);
const seeds = goldenCases().map((c) => c.pod as JsonValue);

const interesting: JsonValue[] = [
  'true',
  'false',
  'enabled',
  '',
  'mcp',
  'mcp-proxy',
  '8080',
  '15001',
  '0',
  '65536',
  '/mcp',
  'disk',
  'x y',
  null,
  7,
  [],
  {},
];
const keys = [
  'tessera.dev/inject',
  'tessera.dev/injection',
  'tessera.dev/server',
  'tessera.dev/mcp-port',
  'tessera.dev/mcp-path',
  'tessera.dev/audit-durability',
  'tessera.dev/injected',
  'kubectl.kubernetes.io/default-container',
];

type Loose = Record<string, unknown>;

function isLoose(v: unknown): v is Loose {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object under `key`, created when absent; undefined when something else is there. */
function child(parent: Loose, key: string): Loose | undefined {
  if (parent[key] === undefined || parent[key] === null) parent[key] = {};
  const v = parent[key];
  return isLoose(v) ? v : undefined;
}

function pushTo(parent: Loose, key: string, value: unknown): void {
  if (parent[key] === undefined || parent[key] === null) parent[key] = [];
  const list = parent[key];
  if (Array.isArray(list)) list.push(value);
}

/** Edits that target what the injector reads, so that injection actually happens often. */
function mutatePod(r: Random, input: JsonValue): JsonValue {
  if (!isLoose(input)) return mutateJson(r, input);
  const pod: Loose = structuredClone(input);
  const steps = 1 + r.int(4);
  for (let i = 0; i < steps; i++) {
    const meta = child(pod, 'metadata');
    const spec = child(pod, 'spec');
    switch (r.int(8)) {
      case 0: {
        const labels = meta && child(meta, 'labels');
        if (labels)
          labels[r.pick(keys)] = r.chance(0.8)
            ? r.pick(['true', 'files', 'enabled', 'Bad_Name'])
            : r.pick(interesting);
        break;
      }
      case 1: {
        const annotations = meta && child(meta, 'annotations');
        if (annotations) {
          annotations[r.pick(keys)] = r.chance(0.8)
            ? r.pick(['false', 'mcp', '3000', '/v1', 'http'])
            : r.pick(interesting);
        }
        break;
      }
      case 2: {
        const containers = spec?.containers;
        const c: unknown =
          Array.isArray(containers) && containers.length > 0 ? r.pick(containers) : undefined;
        const name = r.pick(['mcp', 'http', 'mcp-app', null]);
        if (isLoose(c)) pushTo(c, 'ports', { name, containerPort: r.pick([80, 8080, 15001, 3000]) });
        break;
      }
      case 3:
        if (spec) spec.hostNetwork = r.pick([true, false, null, 'yes']);
        break;
      case 4:
        if (spec) spec[r.pick(['initContainers', 'volumes', 'containers'])] = r.pick(interesting);
        break;
      case 5:
        return mutateJson(r, pod as JsonValue);
      case 6:
        if (spec) pushTo(spec, 'volumes', { name: r.pick(['tessera-snapshot', 'data', 'x']) });
        break;
      default:
        if (meta) meta.labels = { 'tessera.dev/server': 'fuzz', 'tessera.dev/inject': 'true' };
    }
  }
  return pod as JsonValue;
}

test(`fuzz: injectPod on ${runs} mutated pods`, () => {
  const seed = baseSeed();
  let injected = 0;
  for (let i = 0; i < runs; i++) {
    const r = createRandom(seed + i);
    const input = r.chance(0.05) ? randomJson(r) : mutatePod(r, r.pick(seeds));
    const namespaceLabels: Record<string, string> = r.chance(0.5)
      ? { 'tessera.dev/injection': 'enabled' }
      : {};
    const sidecar = goldenSidecar(r.chance(0.5));
    const context = `seed ${seed + i}: ${JSON.stringify(input)}`;
    const result = injectPod(input, { namespaceLabels, sidecar });
    assert.deepEqual(applyPatch(input, result.patch), result.pod, context);
    if (!result.decision.inject) {
      assert.deepEqual(result.patch, [], context);
      continue;
    }
    injected++;
    const again = injectPod(result.pod, { namespaceLabels, sidecar });
    assert.deepEqual(again.decision, { inject: false, reasons: ['already_injected'] }, context);
    assert.deepEqual(again.patch, [], context);
    // The original input was not modified in place.
    assert.notDeepEqual(input, result.pod, context);
  }
  // A fuzzer that never reaches the interesting path proves nothing.
  assert.ok(injected > runs / 10, `only ${injected} of ${runs} pods were injected`);
});

test(`fuzz: AdmissionReview parsing and review on ${runs} mutated reviews`, async () => {
  const seed = baseSeed() + 1_000_000;
  const sidecar = goldenSidecar(true);
  const labels = async (): Promise<Record<string, string>> => ({ 'tessera.dev/injection': 'enabled' });
  for (let i = 0; i < runs; i++) {
    const r = createRandom(seed + i);
    const valid: JsonValue = {
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: {
        uid: 'u',
        resource: { group: '', version: 'v1', resource: 'pods' },
        operation: 'CREATE',
        namespace: 'ns',
        object: mutatePod(r, r.pick(seeds)),
      },
    };
    const body = r.chance(0.5) ? mutateJson(r, valid, 4) : valid;
    let request: ReturnType<typeof parseReview>;
    try {
      request = parseReview(body);
    } catch (err) {
      assert.ok(err instanceof InvalidReviewError, `seed ${seed + i}: ${String(err)}`);
      continue;
    }
    const outcome = await review(request, labels, sidecar);
    assert.equal(outcome.body.response.uid, request.uid);
    if (outcome.body.response.patch) {
      const patch = JSON.parse(Buffer.from(outcome.body.response.patch, 'base64').toString());
      applyPatch(request.object as JsonValue, patch);
    }
  }
});
