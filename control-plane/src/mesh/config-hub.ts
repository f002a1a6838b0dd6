/**
 * Tracks every connected proxy stream and pushes configuration to it. A proxy subscribes per type;
 * the hub answers with the full set of that type unless the proxy already holds that version; on a
 * change (debounced) it recomputes the affected servers' snapshots and sends only the types whose
 * content hash changed. ACKs and NACKs update per-type status; pushes never wait for them.
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
  error: string;
}

export interface ProxyStatus {
  streamId: string;
  nodeId: string;
  server: string;
  role: string;
  controlPlaneId: string;
  connectedAt: string;
  types: Array<{
    typeUrl: string;
    state: SyncState;
    sentVersion: string;
    ackedVersion: string;
    error: string;
  }>;
}

interface Stream {
  id: string;
  node: Node;
  connectedAt: Date;
  send: (response: DiscoveryResponse) => void;
  types: Map<string, TypeStatus>;
}

export interface ConfigHubOptions {
  controlPlaneId: string;
  /** The current snapshot of a server, or undefined when it does not exist. */
  snapshotOf: (server: string) => Promise<TypeSnapshot[] | undefined>;
  debounceMs?: number;
  maxDebounceMs?: number;
  log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

export interface ConfigHub {
  connect(node: Node, send: (response: DiscoveryResponse) => void): string;
  disconnect(streamId: string): void;
  /** Handles a subscription, ACK or NACK. */
  request(streamId: string, request: DiscoveryRequest): Promise<void>;
  /** Announces that a server's configuration may have changed; pushes follow after the debounce. */
  changed(server: string): void;
  /** Marks every server with a connected proxy as changed (after missed notifications). */
  resyncAll(): void;
  /** Pushes pending changes now (tests, shutdown). */
  flush(): Promise<void>;
  status(): ProxyStatus[];
}

function stateOf(t: TypeStatus | undefined): SyncState {
  if (!t?.sentNonce) return t?.ackedVersion ? 'SYNCED' : 'NOT_SENT';
  if (t.error) return 'NACKED';
  return t.ackedVersion === t.sentVersion ? 'SYNCED' : 'STALE';
}

export function createConfigHub(options: ConfigHubOptions): ConfigHub {
  const streams = new Map<string, Stream>();
  const dirty = new Set<string>();
  const debounceMs = options.debounceMs ?? 100;
  const maxDebounceMs = options.maxDebounceMs ?? 10_000;
  let quietTimer: NodeJS.Timeout | undefined;
  let firstChangeAt = 0;

  function sendType(stream: Stream, snap: TypeSnapshot): void {
    const nonce = randomUUID();
    const t = stream.types.get(snap.typeUrl) ?? {
      sentVersion: '',
      sentNonce: '',
      ackedVersion: '',
      error: '',
    };
    t.sentVersion = snap.version;
    t.sentNonce = nonce;
    t.error = '';
    stream.types.set(snap.typeUrl, t);
    stream.send(
      create(DiscoveryResponseSchema, {
        typeUrl: snap.typeUrl,
        versionInfo: snap.version,
        resources: snap.resources,
        nonce,
        controlPlaneId: options.controlPlaneId,
      }),
    );
  }

  async function push(server: string): Promise<void> {
    const snapshot = await options.snapshotOf(server);
    // A server that vanished keeps its proxies on their last config rather than wiping them.
    if (!snapshot) return;
    for (const stream of streams.values()) {
      if (stream.node.mcpServer !== server) continue;
      for (const snap of snapshot) {
        const t = stream.types.get(snap.typeUrl);
        if (t && t.sentVersion !== snap.version) sendType(stream, snap);
      }
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
        push(s).catch((err: Error) => options.log('warn', 'push failed', { server: s, error: err.message })),
      ),
    );
  }

  return {
    connect(node, send) {
      const id = randomUUID();
      streams.set(id, { id, node, connectedAt: new Date(), send, types: new Map() });
      options.log('info', 'proxy connected', { stream: id, node: node.id, server: node.mcpServer });
      return id;
    },
    disconnect(streamId) {
      const s = streams.get(streamId);
      if (s) options.log('info', 'proxy disconnected', { stream: streamId, node: s.node.id });
      streams.delete(streamId);
    },
    async request(streamId, req) {
      const stream = streams.get(streamId);
      if (!stream) return;
      if (req.responseNonce) {
        const t = stream.types.get(req.typeUrl);
        // Only the latest nonce counts: an answer to an older response says nothing about the current one.
        if (!t || t.sentNonce !== req.responseNonce) return;
        if (req.errorDetail) {
          t.error = req.errorDetail.message || `code ${req.errorDetail.code}`;
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
        return;
      }
      // A subscription: send the full set unless the proxy already holds this version.
      const snapshot = await options.snapshotOf(stream.node.mcpServer);
      const snap = snapshot?.find((s) => s.typeUrl === req.typeUrl);
      if (!snap) {
        options.log('warn', 'subscription to an unknown type ignored', {
          node: stream.node.id,
          typeUrl: req.typeUrl,
        });
        return;
      }
      const held = req.initialVersions[snap.resources[0]?.name ?? ''] ?? req.versionInfo;
      if (held && held === snap.version) {
        stream.types.set(req.typeUrl, {
          sentVersion: snap.version,
          sentNonce: '',
          ackedVersion: snap.version,
          error: '',
        });
        return;
      }
      sendType(stream, snap);
    },
    changed(server) {
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
      return [...streams.values()].map((s) => ({
        streamId: s.id,
        nodeId: s.node.id,
        server: s.node.mcpServer,
        role: s.node.role,
        controlPlaneId: options.controlPlaneId,
        connectedAt: s.connectedAt.toISOString(),
        types: [...s.types.entries()].map(([typeUrl, t]) => ({
          typeUrl,
          state: stateOf(t),
          sentVersion: t.sentVersion,
          ackedVersion: t.ackedVersion,
          error: t.error,
        })),
      }));
    },
  };
}
