/**
 * Assembles a proxy from its bootstrap: store, mesh stream, audit shipper, upstream and listener.
 *
 * @module
 */
import type { AddressInfo } from 'node:net';
import type { AuditRecord } from './audit/audit-event.ts';
import { createAuditShipper } from './audit/audit-shipper.ts';
import { openAuditSpool } from './audit/audit-spool.ts';
import { spawnRecord } from './audit/spawn-record.ts';
import type { Bootstrap } from './config/bootstrap.ts';
import { stdioChildEnvNames } from './config/stdio-child-env.ts';
import { lazyFilterDispatcher } from './filters/lazy-filter-dispatcher.ts';
import { createMeshTransport, type MeshTransport } from './mesh-api/mesh-transport.ts';
import { createProxyServer } from './server/http-server.ts';
import { createConfigStore } from './store/config-store.ts';
import { createSnapshotFile } from './store/snapshot-file.ts';
import { auditMetrics } from './telemetry/audit-metrics.ts';
import { createLog, type Log } from './telemetry/log.ts';
import { createProxyMetrics } from './telemetry/metrics.ts';
import { createSidecarUpstream } from './upstream/sidecar-upstream.ts';
import type { Upstream } from './upstream/upstream.ts';
import { createDiscoveryClient } from './xds/discovery-client.ts';

export const PROXY_VERSION = '0.1.0';

/** Audit batching until the control plane sends its settings. */
const defaultAudit = { batchMaxEvents: 256, flushIntervalMs: 1_000 };

export interface ProxyHooks {
  /**
   * The proxy can no longer keep its promise and should be restarted: with `disk` audit durability,
   * the spool could not be flushed, so no answer can go out any more. Called once.
   */
  onFatal?: (err: Error) => void;
}

export interface Proxy {
  /** Starts the mesh stream and the MCP listener; resolves with the bound address. */
  listen(): Promise<AddressInfo>;
  /** Drains: stops accepting, ends upstream sessions, ships remaining audit events. */
  close(): Promise<void>;
}

/** stdio, egress and HTTP+SSE upstreams load their modules (child processes, undici, the SSRF guard) only when chosen. */
async function createUpstream(
  bootstrap: Bootstrap,
  transport: MeshTransport,
  log: Log,
  audit: (record: AuditRecord) => void,
): Promise<Upstream> {
  const shared = {
    maxPendingRequests: bootstrap.maxPendingRequests,
    statelessPerPrincipal: bootstrap.statelessChannelsPerPrincipal,
    clientInfo: { name: 'tessera-proxy', version: PROXY_VERSION },
    log,
  };
  if (bootstrap.mode === 'stdio') {
    const { createStdioUpstream } = await import('./upstream/stdio-upstream.ts');
    return createStdioUpstream({
      ...shared,
      command: bootstrap.stdioCommand!,
      args: bootstrap.stdioArgs,
      maxSessions: bootstrap.stdioMaxSessions,
      idleTimeoutMs: bootstrap.stdioIdleTimeoutMs,
      inheritEnv: stdioChildEnvNames(process.env),
      onSpawn: (spawn) => audit(spawnRecord(spawn)),
    });
  }
  if (bootstrap.mode === 'egress') {
    const { createEgressFromBootstrap } = await import('./egress/egress-from-bootstrap.ts');
    return createEgressFromBootstrap(bootstrap, transport, log, shared.clientInfo);
  }
  if (bootstrap.upstreamTransport === 'sse') {
    const { createSseLegacyUpstream } = await import('./upstream/sse-legacy-upstream.ts');
    return createSseLegacyUpstream({
      ...shared,
      url: bootstrap.upstreamUrl!,
      maxSessions: bootstrap.sseMaxSessions,
      idleTimeoutMs: bootstrap.sseIdleTimeoutMs,
    });
  }
  return createSidecarUpstream({ ...shared, url: bootstrap.upstreamUrl! });
}

/**
 * Builds a proxy from its bootstrap. Async only because some modes load their modules on demand: a
 * sidecar never pays undici's memory.
 */
export async function createProxy(bootstrap: Bootstrap, hooks: ProxyHooks = {}): Promise<Proxy> {
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
    failover: transport.failover,
    idleTimeoutMs: bootstrap.meshIdleTimeoutMs,
  });
  const metrics = createProxyMetrics();
  const spool = openAuditSpool({
    dir: bootstrap.auditSpoolDir,
    onFlushed: (seconds) => metrics.auditFlushDuration.labels().observe(seconds),
    maxBytes: bootstrap.auditSpoolMaxBytes,
    onDrop: (events) => log('error', 'audit spool full; dropped the oldest events', { events }),
    onError: (message, err) => log('error', message, { error: err.message }),
  });
  const audit = createAuditShipper({
    transport,
    spool,
    proxyId: bootstrap.nodeId,
    server: bootstrap.server,
    settings: () => store.current()?.audit ?? defaultAudit,
    log,
  });
  let fatal: Error | undefined;
  const auditSynced = () =>
    spool.sync().catch((err: Error) => {
      if (!fatal) {
        fatal = err;
        log('error', 'audit durability is lost: the proxy stops answering', { error: err.message });
        hooks.onFatal?.(err);
      }
      throw err;
    });
  const upstream = await createUpstream(bootstrap, transport, log, audit.record);
  metrics.registry.register(auditMetrics(audit.stats));
  const filterDispatcher = lazyFilterDispatcher({ allow: bootstrap.filterAllow });
  const server = createProxyServer({
    filterDispatcher,
    replicas: bootstrap.replicas,
    store,
    upstream,
    maxBodyBytes: bootstrap.maxBodyBytes,
    maxStreamsPerPrincipal: bootstrap.maxStreamsPerPrincipal,
    allowedOrigins: bootstrap.allowedOrigins,
    listenHost: bootstrap.listenHost,
    allowedHosts: bootstrap.allowedHosts,
    audit: audit.record,
    auditSynced: bootstrap.auditDurability === 'disk' ? auditSynced : undefined,
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
      transport.close();
      await filterDispatcher.close();
    },
  };
}
