/**
 * Namespace labels for the decision: the AdmissionReview carries the pod, not its namespace. Cached
 * briefly, because a burst of pods (a Deployment scaling up) would otherwise read the same namespace
 * once per pod.
 *
 * @module
 */
import type { CoreV1Api } from '@kubernetes/client-node';

export interface NamespaceLabelsOptions {
  core: CoreV1Api;
  /** Default 10 s: a label change takes effect for new pods within this time. */
  ttlMs?: number;
  now?: () => number;
}

export function createNamespaceLabels(
  o: NamespaceLabelsOptions,
): (namespace: string) => Promise<Record<string, string>> {
  const ttl = o.ttlMs ?? 10_000;
  const now = o.now ?? Date.now;
  const cache = new Map<string, { labels: Record<string, string>; until: number }>();
  return async (namespace) => {
    const hit = cache.get(namespace);
    if (hit && hit.until > now()) return hit.labels;
    const ns = await o.core.readNamespace({ name: namespace });
    const labels = ns.metadata?.labels ?? {};
    if (cache.size > 10_000) cache.clear();
    cache.set(namespace, { labels, until: now() + ttl });
    return labels;
  };
}
