/**
 * Builds the control plane without listening: the public HTTP app (admin API, health) and the mesh
 * app (HTTP/2 Connect: discovery and audit), over one data source. `main.ts`/the CLI call listen.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { Http2Server, Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { fastifyConnectPlugin } from '@connectrpc/connect-fastify';
import { AuditService } from '@tessera/api/mesh/v1/audit';
import { MeshDiscoveryService } from '@tessera/api/mesh/v1/discovery';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { DataSource } from 'typeorm';
import { createServerRegistry, type ServerRegistry } from './catalog/server-registry.ts';
import type { Settings } from './config.ts';
import { loadSigningKeys } from './keys/signing-keys.ts';
import { startChangeFeed } from './mesh/change-feed.ts';
import { type ConfigHub, createConfigHub } from './mesh/config-hub.ts';
import { localAuthenticator, type MeshAuthenticator } from './mesh/mesh-auth.ts';
import { buildSnapshot } from './mesh/snapshot.ts';
import { type StatusStore, startStatusStore } from './mesh/status-store.ts';
import { createAdmission, createTokenBucket } from './mesh/token-bucket.ts';
import { createKubernetesAuthenticator, kubeTokenReviewer, type TokenReviewer } from './mesh/token-review.ts';
import { adminApiPlugin } from './plugins/admin-api.ts';
import { healthPlugin } from './plugins/health.ts';
import { auditService } from './services/audit-service.ts';
import { discoveryService } from './services/discovery-service.ts';

export interface BuildOptions {
  settings: Settings;
  ds: DataSource;
  adminToken: string;
  meshToken: string;
  /** When given, replicas sharing this database hear each other's changes (LISTEN/NOTIFY). */
  databaseUrl?: string;
  /** Kubernetes mode: how tokens are reviewed (default: the Kubernetes API from in-cluster/KUBECONFIG). */
  tokenReviewer?: TokenReviewer;
}

/** The mesh listener: HTTP/2 without TLS inside the cluster network (mTLS arrives with the mesh identity work). */
export type MeshApp = FastifyInstance<Http2Server, Http2ServerRequest, Http2ServerResponse>;

export interface ControlPlane {
  id: string;
  publicApp: FastifyInstance;
  meshApp: MeshApp;
  registry: ServerRegistry;
  hub: ConfigHub;
  status: StatusStore;
  close(): Promise<void>;
}

export async function build(options: BuildOptions): Promise<ControlPlane> {
  const { settings, ds } = options;
  const id = `cp-${randomUUID().slice(0, 8)}`;
  const keys = await loadSigningKeys(ds);
  const registry = createServerRegistry(ds);
  // Logs go to stderr, like the proxy's, so stdout carries only what the CLI prints for people.
  const logger = {
    level: settings.logLevel,
    base: { component: 'control-plane', replica: id },
    stream: process.stderr,
  };
  const publicApp = Fastify({ logger, bodyLimit: 1024 * 1024 });
  const meshApp: MeshApp = Fastify({
    logger,
    http2: true,
    bodyLimit: 64 * 1024 * 1024,
    // Long-lived streams and audit batches would flood the log with one line per request.
    logController: new LogController({ disableRequestLogging: true }),
  });

  const hub = createConfigHub({
    controlPlaneId: id,
    pushConcurrency: settings.meshPushConcurrency,
    log: (level, msg, fields) => meshApp.log[level](fields ?? {}, msg),
    snapshotOf: async (name) => {
      const server = await registry.get(name);
      if (!server) return undefined;
      return buildSnapshot({
        server,
        issuer: settings.publicUrl,
        jwks: keys.jwks,
        audit: {
          batchMaxEvents: settings.auditBatchMaxEvents,
          flushIntervalMs: settings.auditFlushIntervalMs,
        },
        requestTimeoutMs: 60_000,
      });
    },
  });
  registry.onChange((name) => hub.changed(name));
  const feed = options.databaseUrl
    ? await startChangeFeed({
        databaseUrl: options.databaseUrl,
        onChange: (name) => hub.changed(name),
        onResync: () => hub.resyncAll(),
        log: (level, msg, fields) => meshApp.log[level](fields ?? {}, msg),
      })
    : undefined;
  registry.onChange((name) => {
    feed
      ?.publish(name)
      .catch((err: Error) => meshApp.log.warn({ server: name, error: err.message }, 'change not published'));
  });

  const status = startStatusStore({
    ds,
    hub,
    intervalMs: settings.meshStatusIntervalMs,
    log: (level, msg, fields) => meshApp.log[level](fields ?? {}, msg),
  });
  let authenticate: MeshAuthenticator = localAuthenticator(options.meshToken);
  if (settings.meshAuth === 'kubernetes') {
    authenticate = createKubernetesAuthenticator({
      review: options.tokenReviewer ?? (await kubeTokenReviewer()),
      local: authenticate,
      namespaces: settings.meshK8sNamespaces,
    });
  }

  const newStreams = createTokenBucket({
    ratePerSecond: settings.meshNewStreamsPerSecond,
    burst: settings.meshNewStreamBurst,
  });
  let ready = false;
  await publicApp.register(healthPlugin(() => ready));
  await publicApp.register(
    adminApiPlugin({
      adminToken: options.adminToken,
      registry,
      meshStatus: () => status.read(),
      keys: () => keys,
      issuer: settings.publicUrl,
      tokenTtlSeconds: settings.tokenTtlSeconds,
      meshSecret: options.meshToken,
    }),
  );
  await meshApp.register(healthPlugin(() => ready));
  await meshApp.register(fastifyConnectPlugin, {
    shutdownTimeoutMs: 5_000,
    routes(router) {
      router.service(
        MeshDiscoveryService,
        discoveryService({
          hub,
          authenticate,
          serverExists: async (name) => (await registry.get(name)) !== null,
          ready: () => ready,
          admit: createAdmission({
            bucket: newStreams,
            ratePerSecond: settings.meshNewStreamsPerSecond,
            maxWaitMs: 1_000,
          }),
          maxStreamAgeMs: settings.meshMaxStreamAgeS * 1000,
          heartbeatMs: settings.meshHeartbeatS * 1000,
        }),
      );
      router.service(
        AuditService,
        auditService({
          ds,
          authenticate,
          log: (msg, fields) => meshApp.log.debug(fields, msg),
        }),
      );
    },
  });
  await Promise.all([publicApp.ready(), meshApp.ready()]);
  // Streams are refused (UNAVAILABLE) until every server's snapshot is computed: a proxy is never
  // answered from a half-loaded replica (istio#25495).
  await hub.preload((await registry.list()).map((s) => s.name));
  await status.write();
  ready = true;

  return {
    id,
    publicApp,
    meshApp,
    registry,
    hub,
    status,
    async close() {
      ready = false;
      await Promise.all([publicApp.close(), meshApp.close()]);
      await status.close();
      await feed?.close();
    },
  };
}
