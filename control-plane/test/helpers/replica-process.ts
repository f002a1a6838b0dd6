/**
 * A control-plane replica as a child process (`tessera start` on a shared PostgreSQL, no local
 * proxies, no demo server), so that tests can SIGKILL it like a crashed pod.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

const cli = join(import.meta.dirname, '..', '..', 'src', 'cli', 'tessera.ts');

export const REPLICA_ADMIN_TOKEN = 'A'.repeat(40);
export const REPLICA_MESH_SECRET = 'M'.repeat(40);

export interface ReplicaProcess {
  child: ChildProcess;
  publicUrl: string;
  meshUrl: string;
  stderr: () => string;
  /** Calls the admin API of this replica. */
  api(method: string, path: string, body?: unknown): Promise<Response>;
  /** SIGKILL, as a crashed pod; resolves when it is gone. */
  kill9(): Promise<void>;
  /** SIGTERM, wait for exit, remove the data directory. */
  stop(): Promise<void>;
}

export async function startReplicaProcess(
  databaseUrl: string,
  extraEnv: Record<string, string> = {},
): Promise<ReplicaProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-replica-'));
  const [port, meshPort] = await Promise.all([freePort(), freePort()]);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    DATABASE_URL: databaseUrl,
    TESSERA_DATA_DIR: dataDir,
    TESSERA_PORT: String(port),
    TESSERA_MESH_PORT: String(meshPort),
    TESSERA_LOCAL_PROXIES: 'false',
    TESSERA_DEMO_SERVER: 'false',
    // Replicas are one control plane: one issuer, hence the same trust bundle and content hashes.
    TESSERA_PUBLIC_URL: 'http://tessera.test',
    TESSERA_ADMIN_TOKEN: REPLICA_ADMIN_TOKEN,
    TESSERA_MESH_TOKEN: REPLICA_MESH_SECRET,
    TESSERA_LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'warn',
    ...extraEnv,
  };
  const child = spawn(process.execPath, [cli, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`replica did not start in 60 s:\n${err}`)), 60_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Tessera is running.')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`replica exited with ${code}:\n${err}`));
    });
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  const publicUrl = `http://127.0.0.1:${port}`;
  return {
    child,
    publicUrl,
    meshUrl: `http://127.0.0.1:${meshPort}`,
    stderr: () => err,
    api: (method, path, body) =>
      fetch(`${publicUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${REPLICA_ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    async kill9() {
      if (!gone()) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (!gone()) child.kill('SIGTERM');
      await exited;
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
