/**
 * Leader election on a `coordination.k8s.io/v1` Lease, the way client-go's leaderelection package
 * does it: the leader renews `renewTime` every `renewIntervalMs`; a candidate takes the Lease over
 * once `renewTime + leaseDurationSeconds` has passed; every write carries the Lease's
 * `resourceVersion`, so two candidates can never both win the same round. A leader that cannot
 * renew within `renewDeadlineMs` steps down before another replica can take over, and `close()`
 * releases the Lease so a successor need not wait for it to expire.
 *
 * @module
 */
import { type CoordinationV1Api, type V1Lease, V1MicroTime } from '@kubernetes/client-node';

export interface LeaderElectorOptions {
  api: CoordinationV1Api;
  namespace: string;
  name: string;
  /** Unique per replica (the pod name). */
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  renewIntervalMs?: number;
  /** How often a follower tries. */
  retryIntervalMs?: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
  onError?(err: unknown): void;
}

export interface LeaderElector {
  isLeader(): boolean;
  /** Stops trying and releases the Lease if held. */
  close(): Promise<void>;
}

export function startLeaderElector(options: LeaderElectorOptions): LeaderElector {
  const { api, namespace, name, identity } = options;
  const duration = options.leaseDurationSeconds ?? 15;
  const renewDeadline = options.renewDeadlineMs ?? 10_000;
  const renewInterval = options.renewIntervalMs ?? 2_000;
  const retryInterval = options.retryIntervalMs ?? 2_000;
  let leader = false;
  let lastRenew = 0;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();

  const spec = (transitions: number, acquired: Date) => ({
    holderIdentity: identity,
    leaseDurationSeconds: duration,
    acquireTime: new V1MicroTime(acquired.getTime()),
    renewTime: new V1MicroTime(Date.now()),
    leaseTransitions: transitions,
  });

  /** One round: returns whether this replica holds the Lease afterwards. */
  async function tryAcquireOrRenew(): Promise<boolean> {
    let lease: V1Lease;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      await api.createNamespacedLease({
        namespace,
        body: { metadata: { name, namespace }, spec: spec(0, new Date()) },
      });
      return true;
    }
    const s = lease.spec ?? {};
    const holder = s.holderIdentity ?? '';
    if (holder === identity) {
      lease.spec = spec(s.leaseTransitions ?? 0, new Date(s.acquireTime ?? Date.now()));
    } else {
      const renewed = s.renewTime ? new Date(s.renewTime).getTime() : 0;
      const expired = renewed + (s.leaseDurationSeconds ?? duration) * 1000 < Date.now();
      if (holder !== '' && !expired) return false;
      lease.spec = spec((s.leaseTransitions ?? 0) + 1, new Date());
    }
    // resourceVersion in the body makes this a compare-and-swap: a concurrent writer gets 409.
    await api.replaceNamespacedLease({ name, namespace, body: lease });
    return true;
  }

  async function round(): Promise<void> {
    let holds = false;
    try {
      holds = await tryAcquireOrRenew();
      if (holds) lastRenew = Date.now();
    } catch (err) {
      if ((err as { code?: number }).code !== 409) options.onError?.(err);
      // A leader keeps leading through brief API trouble, up to the renew deadline.
      holds = leader && Date.now() - lastRenew < renewDeadline;
    }
    if (closed) return;
    if (holds && !leader) {
      leader = true;
      options.onStartedLeading();
    } else if (!holds && leader) {
      leader = false;
      options.onStoppedLeading();
    }
  }

  const loop = () => {
    if (closed) return;
    running = round().finally(() => {
      if (!closed) timer = setTimeout(loop, leader ? renewInterval : retryInterval);
    });
  };
  loop();

  return {
    isLeader: () => leader,
    async close() {
      closed = true;
      clearTimeout(timer);
      await running;
      if (!leader) return;
      leader = false;
      options.onStoppedLeading();
      try {
        const lease = await api.readNamespacedLease({ name, namespace });
        if (lease.spec?.holderIdentity !== identity) return;
        lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 };
        await api.replaceNamespacedLease({ name, namespace, body: lease });
      } catch (err) {
        options.onError?.(err);
      }
    },
  };
}
