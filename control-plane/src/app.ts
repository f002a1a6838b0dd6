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
import { CredentialService } from '@tessera/api/mesh/v1/credentials';
import { MeshDiscoveryService } from '@tessera/api/mesh/v1/discovery';
import Fastify, { type FastifyInstance, LogController } from 'fastify';
import type { DataSource } from 'typeorm';
import { createApiKeyStore } from './api-keys/api-key-store.ts';
import { createFilterSecrets } from './catalog/filter-secrets.ts';
import { createServerRegistry, type ServerRegistry } from './catalog/server-registry.ts';
import type { Settings } from './config.ts';
import { createCredentialBroker } from './credentials/credential-broker.ts';
import { createOAuthFlow } from './credentials/oauth/oauth-flow.ts';
import { createOAuthStore } from './credentials/oauth/oauth-store.ts';
import { createOutboundFetch } from './credentials/oauth/outbound-fetch.ts';
import { createOutboundPolicy } from './credentials/oauth/outbound-policy.ts';
import { createStaticCredentials } from './credentials/static-credentials.ts';
import { type Keyring, openKeyring } from './crypto/open-secret-box.ts';
import type { SecretBox } from './crypto/secret-box.ts';
import { createPrincipalResolver } from './identity/admin-principal.ts';
import { createIdentity, type Identity } from './identity/identity.ts';
import { secretBoxSealer } from './identity/secret-sealer.ts';
import { loadSigningKeys } from './keys/signing-keys.ts';
import { startChangeFeed } from './mesh/change-feed.ts';
import { type ConfigHub, createConfigHub } from './mesh/config-hub.ts';
import { localAuthenticator, type MeshAuthenticator } from './mesh/mesh-auth.ts';
import { MESH_CALL_OPTIONS, meshGate } from './mesh/mesh-gate.ts';
import { buildSnapshot } from './mesh/snapshot.ts';
import { type StatusStore, startStatusStore } from './mesh/status-store.ts';
import { createAdmission, createTokenBucket } from './mesh/token-bucket.ts';
import { createKubernetesAuthenticator, kubeTokenReviewer, type TokenReviewer } from './mesh/token-review.ts';
import { adminApiPlugin } from './plugins/admin-api.ts';
import { connectRoutesPlugin } from './plugins/connect-routes.ts';
import { healthPlugin } from './plugins/health.ts';
import { signInRoutesPlugin } from './plugins/sign-in-routes.ts';
import { auditService } from './services/audit-service.ts';
import { credentialService } from './services/credential-service.ts';
import { discoveryService } from './services/discovery-service.ts';

export interface BuildOptions {
  settings: Settings;
  ds: DataSource;
  adminToken: string;
  meshToken: string;
  /** When given, replicas sharing this database hear each other's changes (LISTEN/NOTIFY). */
  databaseUrl?: string;
  /** Encryption of secrets at rest; opened from the settings (`TESSERA_KEY_PROVIDER`) when absent. */
  keyring?: Keyring;
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
  identity: Identity;
  /** Seals and opens every secret the control plane stores. */
  secretBox: SecretBox;
  status: StatusStore;
  close(): Promise<void>;
}

export async function build(options: BuildOptions): Promise<ControlPlane> {
  const { settings, ds } = options;
  const id = `cp-${randomUUID().slice(0, 8)}`;
  const keyring = options.keyring ?? (await openKeyring(settings));
  const secretBox = keyring.box;
  const keys = await loadSigningKeys(ds, secretBox);
  const filterSecrets = createFilterSecrets({ ds, box: secretBox });
  await filterSecrets.sealLegacy();
  const registry = createServerRegistry(ds, filterSecrets);
  const apiKeys = createApiKeyStore({
    ds,
    serverExists: async (name) => (await registry.get(name)) !== null,
    changed: (name) => registry.notify(name),
  });
  const statics = createStaticCredentials({ ds, box: secretBox });
  const oauthStore = createOAuthStore({ ds, box: secretBox });
  const fetcher = createOutboundFetch({ policy: createOutboundPolicy(settings.outboundAllow) });
  const oauth = createOAuthFlow({
    store: oauthStore,
    fetcher,
    keys: () => keys,
    publicUrl: settings.publicUrl,
  });
  const broker = createCredentialBroker({ statics, sources: [oauth] });
  const serverExists = async (name: string) => (await registry.get(name)) !== null;
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
        server: { ...server, policy: await filterSecrets.open(name, server.policy) },
        issuer: settings.publicUrl,
        jwks: keys.jwks,
        audit: {
          batchMaxEvents: settings.auditBatchMaxEvents,
          flushIntervalMs: settings.auditFlushIntervalMs,
        },
        requestTimeoutMs: 60_000,
        apiKeys: await apiKeys.activeFor(name),
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
  const identity = await createIdentity({
    settings,
    ds,
    keys,
    registry,
    log: (msg, fields) => publicApp.log.warn(fields, msg),
    sealer: secretBoxSealer(secretBox),
  });
  await identity.register(publicApp);
  await publicApp.register(healthPlugin(() => ready));
  await publicApp.register(
    adminApiPlugin({
      resolve: createPrincipalResolver({
        adminToken: options.adminToken,
        adminEmail: settings.adminEmail,
        issuer: settings.publicUrl,
        jwks: keys.jwks,
        users: identity.users,
        sessionAccount: identity.authorizationServer.sessionAccount,
      }),
      users: identity.users,
      accounts: identity.accounts,
      localAccounts: settings.localAccounts,
      loginThrottle: identity.loginThrottle,
      ds,
      registry,
      meshStatus: () => status.read(),
      keys: () => keys,
      issuer: settings.publicUrl,
      tokenTtlSeconds: settings.tokenTtlSeconds,
      meshSecret: options.meshToken,
      apiKeys,
      statics,
      oauthStore,
      keyring,
    }),
  );
  await publicApp.register(signInRoutesPlugin({ publicUrl: settings.publicUrl }));
  await publicApp.register(
    connectRoutesPlugin({
      flow: oauth,
      publicUrl: settings.publicUrl,
      async signedIn(req, res) {
        const id = await identity.authorizationServer.sessionAccount(req, res);
        return id ? identity.users.get(id) : undefined;
      },
    }),
  );
  await meshApp.register(healthPlugin(() => ready));
  meshApp.addHook('onRequest', meshGate(authenticate));
  await meshApp.register(fastifyConnectPlugin, {
    ...MESH_CALL_OPTIONS,
    shutdownTimeoutMs: 5_000,
    routes(router) {
      router.service(
        MeshDiscoveryService,
        discoveryService({
          hub,
          authenticate,
          serverExists,
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
      router.service(
        CredentialService,
        credentialService({
          broker,
          authenticate,
          serverExists,
          log: (msg, fields) => meshApp.log.warn(fields, msg),
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
    identity,
    secretBox,
    status,
    async close() {
      ready = false;
      identity.close();
      await Promise.all([publicApp.close(), meshApp.close()]);
      await status.close();
      await feed?.close();
      await fetcher.close();
    },
  };
}
