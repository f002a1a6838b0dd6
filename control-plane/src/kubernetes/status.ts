/**
 * The status the controller writes on an MCPServer: pure, from the server, what the last apply
 * did, and the Deployment the API server holds.
 *
 * Conditions:
 * - `Reconciled`: the owned objects match this generation (`observedGeneration`), or why not.
 * - `Ready`: the server's Deployment has as many available replicas as it wants.
 * A condition keeps its `lastTransitionTime` while its status does not change.
 *
 * @module
 */
import type { V1Condition, V1Deployment } from '@kubernetes/client-node';
import { type McpServer, type McpServerStatus, upstreamOf } from './mcp-server.ts';

export interface ReconcileOutcome {
  /** undefined: every owned object was applied. */
  error?: { reason: string; message: string };
}

export function computeStatus(
  server: McpServer,
  outcome: ReconcileOutcome,
  deployment: V1Deployment | undefined,
  endpoint: string,
  now: Date,
): McpServerStatus {
  const generation = server.metadata?.generation ?? 0;
  const previous = server.status?.conditions ?? [];
  const want = server.spec.replicas ?? 1;
  const available = deployment?.status?.availableReplicas ?? 0;
  const reconciled: Omit<V1Condition, 'lastTransitionTime'> = outcome.error
    ? { type: 'Reconciled', status: 'False', ...outcome.error }
    : {
        type: 'Reconciled',
        status: 'True',
        reason: 'Applied',
        message: 'Deployment, Service, ServiceAccount and NetworkPolicy are applied',
      };
  let ready: Omit<V1Condition, 'lastTransitionTime'>;
  if (outcome.error)
    ready = { type: 'Ready', status: 'False', reason: 'NotReconciled', message: outcome.error.message };
  else if (want === 0)
    ready = { type: 'Ready', status: 'False', reason: 'ScaledToZero', message: 'spec.replicas is 0' };
  else if (available >= want)
    ready = {
      type: 'Ready',
      status: 'True',
      reason: 'Available',
      message: `${available}/${want} replicas available`,
    };
  else
    ready = {
      type: 'Ready',
      status: 'False',
      reason: 'Unavailable',
      message: `${available}/${want} replicas available`,
    };
  return {
    observedGeneration: generation,
    upstream: upstreamOf(server.spec),
    endpoint,
    replicas: deployment?.status?.replicas ?? 0,
    availableReplicas: available,
    conditions: [reconciled, ready].map((c) =>
      withTransition({ ...c, observedGeneration: generation }, previous, now),
    ),
  };
}

function withTransition(
  next: Omit<V1Condition, 'lastTransitionTime'>,
  previous: V1Condition[],
  now: Date,
): V1Condition {
  const old = previous.find((c) => c.type === next.type);
  // The API returns times as strings; the client's types claim Date. Keep the old value as it came.
  const lastTransitionTime = old && old.status === next.status ? old.lastTransitionTime : now;
  return { ...next, lastTransitionTime };
}

/** True when writing `next` would change nothing but timestamps: saves a write per resync. */
export function sameStatus(a: McpServerStatus | undefined, b: McpServerStatus): boolean {
  const strip = (s: McpServerStatus | undefined) =>
    JSON.stringify({
      ...s,
      conditions: s?.conditions?.map(({ lastTransitionTime: _t, ...rest }) => rest),
    });
  return strip(a) === strip(b);
}
