/**
 * Runs a control plane: database (embedded when no DATABASE_URL), migrations, the public and mesh
 * listeners, and in local mode the demo server and one proxy process per server.
 *
 * @module
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { build, type ControlPlane } from './app.ts';
import { DEMO_SERVER, demoServerInput } from './catalog/demo-server.ts';
import type { Settings } from './config.ts';
import { openDataSource } from './db/data-source.ts';
import { type EmbeddedDb, startEmbeddedDb } from './db/embedded-db.ts';
import { localSecret } from './local/local-secrets.ts';
import { createProxySupervisor, type ProxySupervisor } from './local/proxy-supervisor.ts';

export interface Running {
  controlPlane: ControlPlane;
  publicUrl: string;
  meshUrl: string;
  adminToken: string;
  /** True when this start generated the admin token (the first start): the CLI prints it once. */
  adminTokenNew: boolean;
  /** The MCP URL of the demo server, when it runs. */
  demoMcpUrl: string | undefined;
  close(): Promise<void>;
}

async function waitReady(url: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      if (res.ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

export async function runControlPlane(settings: Settings, log: (msg: string) => void): Promise<Running> {
  let db: EmbeddedDb | undefined;
  let databaseUrl = settings.databaseUrl;
  if (!databaseUrl) {
    db = await startEmbeddedDb({ dataDir: settings.dataDir, port: settings.embeddedPgPort, log });
    databaseUrl = db.url;
  }
  const ds = await openDataSource(databaseUrl);
  const adminTokenNew =
    !settings.adminToken &&
    !(await access(join(settings.dataDir, 'admin-token')).then(
      () => true,
      () => false,
    ));
  const adminToken = await localSecret(settings.dataDir, 'admin-token', settings.adminToken);
  const meshToken = await localSecret(settings.dataDir, 'mesh-token', settings.meshToken);
  const cp = await build({ settings, ds, adminToken, meshToken, databaseUrl });
  await cp.meshApp.listen({ host: settings.meshHost, port: settings.meshPort });
  await cp.publicApp.listen({ host: settings.host, port: settings.port });
  const meshAddr = cp.meshApp.server.address();
  const meshPort = typeof meshAddr === 'object' && meshAddr ? meshAddr.port : settings.meshPort;
  const meshUrl = `http://${settings.meshHost}:${meshPort}`;

  let supervisor: ProxySupervisor | undefined;
  let demoMcpUrl: string | undefined;
  if (settings.demoServer) {
    const demo = await cp.registry.upsert(
      demoServerInput({ adminEmail: settings.adminEmail, port: settings.demoPort }),
    );
    demoMcpUrl = demo.resourceUri;
  }
  if (settings.localProxies) {
    supervisor = createProxySupervisor({
      meshUrl,
      meshToken,
      logLevel: settings.logLevel,
      stateDir: join(settings.dataDir, 'proxies'),
      log: (level, msg, fields) => cp.publicApp.log[level](fields ?? {}, msg),
    });
    supervisor.ensure(await cp.registry.list());
    cp.registry.onChange(async () => supervisor?.ensure(await cp.registry.list()));
    const demo = await cp.registry.get(DEMO_SERVER);
    if (demo?.localPort && !(await waitReady(`http://127.0.0.1:${demo.localPort}/readyz`, 30_000))) {
      log('the demo proxy did not become ready within 30 s; see its logs above');
    }
  }

  // The Kubernetes client library alone maps ~60 MB: loaded only when the controller runs.
  const kube = settings.kubernetes
    ? (await import('./kubernetes/start-controller.ts')).startKubernetesController(
        settings.kubernetes,
        (level, msg, fields) => cp.publicApp.log[level](fields ?? {}, msg),
        { registry: cp.registry },
      )
    : undefined;

  return {
    controlPlane: cp,
    publicUrl: settings.publicUrl,
    meshUrl,
    adminToken,
    adminTokenNew,
    demoMcpUrl,
    async close() {
      await kube?.close();
      await supervisor?.close();
      await cp.close();
      await ds.destroy();
      await db?.stop();
    },
  };
}
