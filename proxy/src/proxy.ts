/**
 * Assembles a proxy from its bootstrap: store, mesh stream, audit shipper, upstream and listener.
 *
 * @module
 */
import type { AddressInfo } from 'node:net';
import { createAuditShipper } from './audit/audit-shipper.ts';
import { openAuditSpool } from './audit/audit-spool.ts';
import type { Bootstrap } from './config/bootstrap.ts';
import { createProxyServer } from './server/http-server.ts';
import { createConfigStore } from './store/config-store.ts';
import { createSnapshotFile } from './store/snapshot-file.ts';
import { createLog } from './telemetry/log.ts';
import { createProxyMetrics } from './telemetry/metrics.ts';
import { createHttpUpstream } from './upstream/http-upstream.ts';
import { createStdioUpstream } from './upstream/stdio-upstream.ts';
import type { Upstream } from './upstream/upstream.ts';
import { createDiscoveryClient } from './xds/discovery-client.ts';
import { createMeshTransport } from './xds/mesh-transport.ts';

export const PROXY_VERSION = '0.1.0';

/** Audit batching until the control plane sends its settings. */
const defaultAudit = { batchMaxEvents: 256, flushIntervalMs: 1_000 };

export interface Proxy {
  /** Starts the mesh stream and the MCP listener; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Drains: stops accepting, ends upstream sessions, ships remaining audit events. */
  close(): Promise<void>;
}

/**
 * Builds a proxy from its bootstrap. Async only because egress mode loads its modules (undici, the
 * SSRF guard) on demand: a sidecar never pays their memory.
 */
export async function createProxy(bootstrap: Bootstrap): Promise<Proxy> {
  const log = createLog(bootstrap.logLevel, { server: bootstrap.server, node: bootstrap.nodeId });
  const store = createConfigStore();
  const snapshot = createSnapshotFile(bootstrap.snapshotDir, log);
  const restored = snapshot.load(store, bootstrap.server);
  if (restored > 0)
    log('info', 'restored the last good configuration', { types: restored, ready: store.ready() });
  const transport = createMeshTransport(bootstrap);
  const discovery = createDiscoveryClient({
    transport,
    node: { id: bootstrap.nodeId, server: bootstrap.server, role: bootstrap.mode, version: PROXY_VERSION },
    store,
    log,
    onApplied: snapshot.save,
  });
  const spool = openAuditSpool({
    dir: bootstrap.auditSpoolDir,
    maxBytes: bootstrap.auditSpoolMaxBytes,
    onDrop: (events) => log('error', 'audit spool full; dropped the oldest events', { events }),
  });
  const audit = createAuditShipper({
    transport,
    spool,
    proxyId: bootstrap.nodeId,
    server: bootstrap.server,
    settings: () => store.current()?.audit ?? defaultAudit,
    log,
  });
  const upstream: Upstream =
    bootstrap.mode === 'stdio'
      ? createStdioUpstream({
          command: bootstrap.stdioCommand!,
          args: bootstrap.stdioArgs,
          maxSessions: bootstrap.stdioMaxSessions,
          idleTimeoutMs: bootstrap.stdioIdleTimeoutMs,
          log,
        })
      : bootstrap.mode === 'egress'
        ? (await import('./egress/egress-from-bootstrap.ts')).createEgressFromBootstrap(
            bootstrap,
            transport,
            log,
          )
        : createHttpUpstream({ url: bootstrap.upstreamUrl!, log });
  const metrics = createProxyMetrics();
  const server = createProxyServer({
    store,
    upstream,
    maxBodyBytes: bootstrap.maxBodyBytes,
    allowedOrigins: bootstrap.allowedOrigins,
    audit: audit.record,
    log,
    metrics,
  });

  return {
    async listen() {
      discovery.start();
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(bootstrap.listenPort, bootstrap.listenHost, () => resolve());
      });
      const address = server.address() as AddressInfo;
      log('info', 'listening', { address: `${address.address}:${address.port}`, mode: bootstrap.mode });
      return address;
    },
    async close() {
      log('info', 'shutting down');
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeIdleConnections();
      await upstream.close();
      server.closeAllConnections();
      await closed;
      await audit.close();
      discovery.close();
    },
  };
}
