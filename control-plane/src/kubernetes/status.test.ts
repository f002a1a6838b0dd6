import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { McpServer } from './mcp-server.ts';
import { computeStatus, sameStatus } from './status.ts';

const server = (over: Partial<McpServer> = {}): McpServer => ({
  metadata: { name: 's', namespace: 'n', generation: 4 },
  spec: { container: { image: 'i' }, replicas: 2 },
  ...over,
});
const T1 = new Date('2026-01-01T00:00:00Z');
const T2 = new Date('2026-01-01T00:05:00Z');
const cond = (s: ReturnType<typeof computeStatus>, type: string) =>
  s.conditions?.find((c) => c.type === type);

test('applied and available: Reconciled and Ready are True for this generation', () => {
  const s = computeStatus(server(), {}, { status: { replicas: 2, availableReplicas: 2 } }, 'http://e', T1);
  assert.equal(s.observedGeneration, 4);
  assert.equal(s.upstream, 'container');
  assert.equal(s.endpoint, 'http://e');
  assert.equal(cond(s, 'Reconciled')?.status, 'True');
  assert.equal(cond(s, 'Reconciled')?.observedGeneration, 4);
  assert.equal(cond(s, 'Ready')?.status, 'True');
});

test('fewer replicas than wanted: Ready is False with the count', () => {
  const s = computeStatus(server(), {}, { status: { availableReplicas: 1 } }, 'http://e', T1);
  assert.equal(cond(s, 'Ready')?.status, 'False');
  assert.equal(cond(s, 'Ready')?.message, '1/2 replicas available');
});

test('a failed apply says why in Reconciled and makes Ready False', () => {
  const s = computeStatus(
    server(),
    { error: { reason: 'Conflict', message: 'Service s exists' } },
    undefined,
    'http://e',
    T1,
  );
  assert.deepEqual([cond(s, 'Reconciled')?.status, cond(s, 'Reconciled')?.reason], ['False', 'Conflict']);
  assert.equal(cond(s, 'Ready')?.reason, 'NotReconciled');
});

test('lastTransitionTime moves only when a condition changes status', () => {
  const first = computeStatus(server(), {}, { status: { availableReplicas: 0 } }, 'http://e', T1);
  const again = computeStatus(
    server({ status: first }),
    {},
    { status: { availableReplicas: 0 } },
    'http://e',
    T2,
  );
  assert.equal(cond(again, 'Ready')?.lastTransitionTime, T1);
  assert.ok(sameStatus(first, again));
  const up = computeStatus(
    server({ status: first }),
    {},
    { status: { availableReplicas: 2 } },
    'http://e',
    T2,
  );
  assert.equal(cond(up, 'Ready')?.lastTransitionTime, T2);
  assert.equal(cond(up, 'Reconciled')?.lastTransitionTime, T1);
  assert.ok(!sameStatus(first, up));
});
