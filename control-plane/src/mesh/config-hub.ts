/**
 * Tracks every connected proxy stream and pushes configuration to it.
 *
 * Algorithm (istiod's push model, scaled down):
 *   1. A proxy subscribes per type; a subscription is answered at once with the full set of that type
 *      unless the proxy already holds that version (its `version_info` or `initial_versions`).
 *   2. `changed(server)` invalidates that server's cached snapshot and marks it dirty; after a quiet
 *      period (debounce, ≈100 ms) — but never later than the maximum wait after the first change —
 *      each dirty server's snapshot is computed once and shared by all its proxies.
 *   3. Each proxy of a dirty server gets the types whose content hash differs from what it was last
 *      sent merged into its pending set (a newer version replaces an older pending one).
 *   4. A proxy with a pending set joins the push queue only while none of its earlier responses is
 *      unanswered: one push in flight per proxy, so a slow proxy gets the latest state once instead of
 *      every intermediate one. An answer that never comes stops blocking after the flow-control timeout.
 *   5. The queue is drained by at most `pushConcurrency` concurrent pushes across all streams; a push
 *      ends when its responses have been handed to the stream (written), never waiting for ACKs.
 *   6. ACKs and NACKs drive per-(proxy, type) status: SYNCED, STALE, NACKED, NOT_SENT.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import {
  type DiscoveryRequest,
  type DiscoveryResponse,
  DiscoveryResponseSchema,
  type Node,
} from '@tessera/api/mesh/v1/discovery';
import type { TypeSnapshot } from './snapshot.ts';

export type SyncState = 'SYNCED' | 'STALE' | 'NACKED' | 'NOT_SENT';

interface TypeStatus {
  sentVersion: string;
  sentNonce: string;
  ackedVersion: string;
  /** The NACK error of the latest response, '' once it was ACKed or superseded. */
  error: string;
  /** The most recent NACK error ever received for this type, kept after recovery. */
  lastError: string;
  lastErrorAt: string;
  /** Whether the latest response was ACKed or NACKed. */
  answered: boolean;
  sentAt: number;
}

/** One resource type of one proxy, as the status API reports it. */
export interface TypeStatusView {
  typeUrl: string;
  state: SyncState;
  sentVersion: string;
  ackedVersion: string;
  error: string;
  lastError: string;
  lastErrorAt: string;
}

export interface ProxyStatus {
  streamId: string;
  nodeId: string;
  server: string;
  role: string;
  controlPlaneId: string;
  connectedAt: string;
  types: TypeStatusView[];
}

/** Hands a response to the stream; resolves once it has been written. */
export type SendResponse = (response: DiscoveryResponse) => Promise<void> | void;

interface Stream {
  id: string;
  node: Node;
  connectedAt: Date;
  send: SendResponse;
  types: Map<string, TypeStatus>;
  /** The newest snapshot per type still to be pushed. */
  pending: Map<string, TypeSnapshot>;
  queued: boolean;
  flowTimer: NodeJS.Timeout | undefined;
}

export interface ConfigHubOptions {
  controlPlaneId: string;
  /** The current snapshot of a server, or undefined when it does not exist. */
  snapshotOf: (server: string) => Promise<TypeSnapshot[] | undefined>;
  debounceMs?: number;
  maxDebounceMs?: number;
  /** Most pushes in progress at once across all streams (istiod: min(15 + 5·cores, 100)). */
  pushConcurrency?: number;
  /** A response unanswered for this long no longer holds back the proxy's next push. */
  flowControlTimeoutMs?: number;
  log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

export interface ConfigHub {
  /** The replica this hub belongs to (`control_plane_id` of every response). */
  readonly id: string;
  connect(node: Node, send: SendResponse): string;
  disconnect(streamId: string): void;
  /** Handles a subscription, ACK or NACK. */
  request(streamId: string, request: DiscoveryRequest): Promise<void>;
  /** Announces that a server's configuration may have changed; pushes follow after the debounce. */
  changed(server: string): void;
  /** Marks every server with a connected proxy as changed (after missed notifications). */
  resyncAll(): void;
  /** Computes pending changes now and resolves when every queued push has been written (tests, shutdown). */
  flush(): Promise<void>;
  status(): ProxyStatus[];
  /** Streams whose status changed since the last call, and streams that left. */
  takeStatusChanges(): { changed: ProxyStatus[]; removed: string[] };
  /** Computes and caches the snapshots of these servers (before the replica declares itself ready). */
  preload(servers: string[]): Promise<void>;
  /** Number of connected streams. */
  size(): number;
}

function stateOf(t: TypeStatus | undefined): SyncState {
  if (!t?.sentNonce) return t?.ackedVersion ? 'SYNCED' : 'NOT_SENT';
  if (t.error) return 'NACKED';
  return t.ackedVersion === t.sentVersion ? 'SYNCED' : 'STALE';
}

function view(typeUrl: string, t: TypeStatus): TypeStatusView {
  return {
    typeUrl,
    state: stateOf(t),
    sentVersion: t.sentVersion,
    ackedVersion: t.ackedVersion,
    error: t.error,
    lastError: t.lastError,
    lastErrorAt: t.lastErrorAt,
  };
}

function newTypeStatus(): TypeStatus {
  return {
    sentVersion: '',
    sentNonce: '',
    ackedVersion: '',
    error: '',
    lastError: '',
    lastErrorAt: '',
    answered: true,
    sentAt: 0,
  };
}

export function createConfigHub(options: ConfigHubOptions): ConfigHub {
  const streams = new Map<string, Stream>();
  const dirty = new Set<string>();
  const debounceMs = options.debounceMs ?? 100;
  const maxDebounceMs = options.maxDebounceMs ?? 10_000;
  const concurrency = Math.max(1, options.pushConcurrency ?? 100);
  const flowControlTimeoutMs = options.flowControlTimeoutMs ?? 10_000;
  let quietTimer: NodeJS.Timeout | undefined;
  let firstChangeAt = 0;
  // Dependency order is the order of the snapshot's types.
  const typeOrder = new Map<string, number>();

  // One computation per server per change, shared by every subscription and push until invalidated.
  const snapshots = new Map<string, Promise<TypeSnapshot[] | undefined>>();
  function snapshotOf(server: string): Promise<TypeSnapshot[] | undefined> {
    let p = snapshots.get(server);
    if (!p) {
      p = options.snapshotOf(server).then((snaps) => {
        snaps?.forEach((s, i) => {
          typeOrder.set(s.typeUrl, i);
        });
        return snaps;
      });
      snapshots.set(server, p);
      // A failure is not cached: the next caller tries again.
      p.catch(() => {
        if (snapshots.get(server) === p) snapshots.delete(server);
      });
    }
    return p;
  }

  const queue: Stream[] = [];
  let active = 0;
  const idleWaiters: Array<() => void> = [];
  const statusDirty = new Set<string>();
  const removed = new Set<string>();

  function inFlight(stream: Stream): boolean {
    const now = performance.now();
    for (const t of stream.types.values()) {
      if (!t.answered && now - t.sentAt < flowControlTimeoutMs) return true;
    }
    return false;
  }

  /** Wakes the stream when its oldest unanswered response stops holding back its pending changes. */
  function armFlowTimer(stream: Stream): void {
    if (stream.flowTimer || !streams.has(stream.id)) return;
    let wait = Number.POSITIVE_INFINITY;
    const now = performance.now();
    for (const t of stream.types.values()) {
      if (!t.answered) wait = Math.min(wait, t.sentAt + flowControlTimeoutMs - now);
    }
    if (wait === Number.POSITIVE_INFINITY) return;
    stream.flowTimer = setTimeout(
      () => {
        stream.flowTimer = undefined;
        if (inFlight(stream)) armFlowTimer(stream);
        else schedule(stream);
      },
      Math.max(1, wait),
    );
    stream.flowTimer.unref();
  }

  function sendType(stream: Stream, snap: TypeSnapshot): Promise<void> | void {
    const nonce = randomUUID();
    const t = stream.types.get(snap.typeUrl) ?? newTypeStatus();
    t.sentVersion = snap.version;
    t.sentNonce = nonce;
    t.error = '';
    t.answered = false;
    t.sentAt = performance.now();
    stream.types.set(snap.typeUrl, t);
    statusDirty.add(stream.id);
    armFlowTimer(stream);
    return stream.send(
      create(DiscoveryResponseSchema, {
        typeUrl: snap.typeUrl,
        versionInfo: snap.version,
        resources: snap.resources,
        nonce,
        controlPlaneId: options.controlPlaneId,
      }),
    );
  }

  function schedule(stream: Stream): void {
    if (stream.queued || stream.pending.size === 0 || !streams.has(stream.id) || inFlight(stream)) return;
    stream.queued = true;
    queue.push(stream);
    pump();
  }

  function pump(): void {
    while (active < concurrency && queue.length > 0) {
      const stream = queue.shift()!;
      stream.queued = false;
      if (!streams.has(stream.id) || stream.pending.size === 0) continue;
      const snaps = [...stream.pending.values()].sort(
        (a, b) => (typeOrder.get(a.typeUrl) ?? 0) - (typeOrder.get(b.typeUrl) ?? 0),
      );
      stream.pending.clear();
      active++;
      Promise.all(snaps.map((s) => sendType(stream, s)))
        .catch((err: Error) =>
          options.log('warn', 'push failed', { node: stream.node.id, error: err.message }),
        )
        .finally(() => {
          active--;
          pump();
        });
    }
    if (active === 0 && queue.length === 0) for (const w of idleWaiters.splice(0)) w();
  }

  async function compute(server: string): Promise<void> {
    const snapshot = await snapshotOf(server);
    // A server that vanished keeps its proxies on their last config rather than wiping them.
    if (!snapshot) return;
    for (const stream of streams.values()) {
      if (stream.node.mcpServer !== server) continue;
      for (const snap of snapshot) {
        const t = stream.types.get(snap.typeUrl);
        if (!t) continue; // never subscribed
        if (t.sentVersion !== snap.version) stream.pending.set(snap.typeUrl, snap);
        else stream.pending.delete(snap.typeUrl); // back to what the proxy already has
      }
      schedule(stream);
    }
  }

  async function flush(): Promise<void> {
    if (quietTimer) clearTimeout(quietTimer);
    quietTimer = undefined;
    firstChangeAt = 0;
    const servers = [...dirty];
    dirty.clear();
    await Promise.all(
      servers.map((s) =>
        compute(s).catch((err: Error) =>
          options.log('warn', 'push failed', { server: s, error: err.message }),
        ),
      ),
    );
    if (active > 0 || queue.length > 0) await new Promise<void>((r) => idleWaiters.push(r));
  }

  function statusOf(s: Stream): ProxyStatus {
    return {
      streamId: s.id,
      nodeId: s.node.id,
      server: s.node.mcpServer,
      role: s.node.role,
      controlPlaneId: options.controlPlaneId,
      connectedAt: s.connectedAt.toISOString(),
      types: [...s.types.entries()].map(([typeUrl, t]) => view(typeUrl, t)),
    };
  }

  return {
    id: options.controlPlaneId,
    connect(node, send) {
      const id = randomUUID();
      streams.set(id, {
        id,
        node,
        connectedAt: new Date(),
        send,
        types: new Map(),
        pending: new Map(),
        queued: false,
        flowTimer: undefined,
      });
      statusDirty.add(id);
      options.log('info', 'proxy connected', { stream: id, node: node.id, server: node.mcpServer });
      return id;
    },
    disconnect(streamId) {
      const s = streams.get(streamId);
      if (!s) return;
      options.log('info', 'proxy disconnected', { stream: streamId, node: s.node.id });
      clearTimeout(s.flowTimer);
      streams.delete(streamId);
      statusDirty.delete(streamId);
      removed.add(streamId);
    },
    async request(streamId, req) {
      const stream = streams.get(streamId);
      if (!stream) return;
      if (req.responseNonce) {
        const t = stream.types.get(req.typeUrl);
        // Only the latest nonce counts: an answer to an older response says nothing about the current one.
        if (!t || t.sentNonce !== req.responseNonce) return;
        t.answered = true;
        statusDirty.add(stream.id);
        if (req.errorDetail) {
          t.error = req.errorDetail.message || `code ${req.errorDetail.code}`;
          t.lastError = t.error;
          t.lastErrorAt = new Date().toISOString();
          options.log('warn', 'proxy rejected configuration (NACK)', {
            node: stream.node.id,
            typeUrl: req.typeUrl,
            version: t.sentVersion,
            error: t.error,
          });
        } else {
          t.ackedVersion = req.versionInfo;
          t.error = '';
        }
        schedule(stream);
        return;
      }
      // A subscription: send the full set unless the proxy already holds this version.
      const snapshot = await snapshotOf(stream.node.mcpServer);
      const snap = snapshot?.find((s) => s.typeUrl === req.typeUrl);
      if (!snap) {
        if (snapshot)
          options.log('warn', 'subscription to an unknown type ignored', {
            node: stream.node.id,
            typeUrl: req.typeUrl,
          });
        return;
      }
      if (!streams.has(streamId)) return;
      const held = req.initialVersions[snap.resources[0]?.name ?? ''] ?? req.versionInfo;
      stream.pending.delete(req.typeUrl);
      if (held && held === snap.version) {
        stream.types.set(req.typeUrl, {
          ...newTypeStatus(),
          sentVersion: snap.version,
          ackedVersion: snap.version,
        });
        statusDirty.add(stream.id);
        return;
      }
      await sendType(stream, snap);
    },
    changed(server) {
      snapshots.delete(server);
      dirty.add(server);
      const now = Date.now();
      if (!firstChangeAt) firstChangeAt = now;
      if (quietTimer) clearTimeout(quietTimer);
      // Wait for a quiet period, but never longer than the maximum after the first change.
      const wait = Math.min(debounceMs, Math.max(0, firstChangeAt + maxDebounceMs - now));
      quietTimer = setTimeout(() => void flush(), wait);
      quietTimer.unref();
    },
    resyncAll() {
      for (const server of new Set([...streams.values()].map((s) => s.node.mcpServer))) this.changed(server);
    },
    flush,
    status() {
      return [...streams.values()].map(statusOf);
    },
    takeStatusChanges() {
      const changed: ProxyStatus[] = [];
      for (const id of statusDirty) {
        const s = streams.get(id);
        if (s) changed.push(statusOf(s));
      }
      statusDirty.clear();
      const gone = [...removed];
      removed.clear();
      return { changed, removed: gone };
    },
    async preload(servers) {
      await Promise.all(servers.map(snapshotOf));
    },
    size: () => streams.size,
  };
}
