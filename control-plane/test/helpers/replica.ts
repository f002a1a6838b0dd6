/**
 * A control-plane replica for tests: its own data source on the test database, built from settings
 * in environment form, with its mesh listener on a free port.
 *
 * @module
 */
import type { DataSource } from 'typeorm';
import { build, type ControlPlane } from '../../src/app.ts';
import { readSettings } from '../../src/config.ts';
import { openDataSource } from '../../src/db/data-source.ts';
import { freePort } from './free-port.ts';
import type { TestDb } from './test-db.ts';

export const ADMIN_TOKEN = 'a'.repeat(40);
export const MESH_SECRET = 'm'.repeat(40);

export interface Replica {
  ds: DataSource;
  cp: ControlPlane;
  meshUrl: string;
  close(): Promise<void>;
}

export async function startReplica(
  db: TestDb,
  env: Record<string, string> = {},
  options: { listenForChanges?: boolean } = {},
): Promise<Replica> {
  const ds = await openDataSource(db.url);
  const settings = readSettings({ TESSERA_DATA_DIR: db.dataDir, TESSERA_LOG_LEVEL: 'warn', ...env });
  const cp = await build({
    settings,
    ds,
    adminToken: ADMIN_TOKEN,
    meshToken: MESH_SECRET,
    databaseUrl: options.listenForChanges ? db.url : undefined,
  });
  await cp.meshApp.listen({ host: '127.0.0.1', port: 0 });
  const { port } = cp.meshApp.server.address() as { port: number };
  return {
    ds,
    cp,
    meshUrl: `http://127.0.0.1:${port}`,
    async close() {
      await cp.close();
      await ds.destroy();
    },
  };
}

/** Registers an HTTP server (its URL unreachable: mesh tests need only its configuration). */
export async function registerServer(cp: ControlPlane, name: string, resourceUri: string): Promise<void> {
  const res = await cp.publicApp.inject({
    method: 'POST',
    url: '/api/v1/servers',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    payload: JSON.stringify({ name, kind: 'http', url: 'http://127.0.0.1:9/mcp', resourceUri }),
  });
  if (res.statusCode !== 201) throw new Error(`registering ${name}: ${res.statusCode} ${res.body}`);
}

/** A replica whose public app listens on a free loopback port, which is also its public URL. */
export async function startListeningReplica(
  db: TestDb,
  env: Record<string, string> = {},
): Promise<Replica & { publicUrl: string }> {
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const replica = await startReplica(db, {
    TESSERA_PORT: String(port),
    TESSERA_PUBLIC_URL: publicUrl,
    ...env,
  });
  await replica.cp.publicApp.listen({ host: '127.0.0.1', port });
  return { ...replica, publicUrl };
}
