/**
 * Runs the real `tessera` command as a child process for end-to-end tests, with its own data
 * directory and free ports, and waits for the line that says where the MCP server is.
 *
 * @module
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './free-port.ts';

const cli = join(import.meta.dirname, '..', '..', 'src', 'cli', 'tessera.ts');

export interface TesseraProcess {
  env: Record<string, string>;
  /** The `tessera start` process. */
  pid: number;
  mcpUrl: string;
  publicUrl: string;
  dataDir: string;
  stdout: () => string;
  stderr: () => string;
  /** Runs `tessera <args>` against this instance. */
  cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }>;
  databaseUrl(): Promise<string>;
  /** SIGTERM, wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
}

export async function startTessera(extraEnv: Record<string, string> = {}): Promise<TesseraProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-e2e-'));
  const [pgPort, port, meshPort, demoPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    TESSERA_DATA_DIR: dataDir,
    TESSERA_EMBEDDED_PG_PORT: String(pgPort),
    TESSERA_PORT: String(port),
    TESSERA_MESH_PORT: String(meshPort),
    TESSERA_DEMO_PORT: String(demoPort),
    TESSERA_AUDIT_FLUSH_INTERVAL_MS: '50',
    TESSERA_LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'warn',
    ...extraEnv,
  };
  const child: ChildProcess = spawn(process.execPath, [cli, 'start'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const mcpUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`tessera start printed no MCP URL in 60 s:\n${out}\n${err}`)),
      60_000,
    );
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /^MCP URL: (\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tessera start exited with ${code}:\n${out}\n${err}`));
    });
  });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    env,
    pid: child.pid!,
    mcpUrl,
    publicUrl: `http://127.0.0.1:${env.TESSERA_PORT}`,
    dataDir,
    stdout: () => out,
    stderr: () => err,
    async cli(args) {
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { env });
        return { code: 0, stdout, stderr };
      } catch (e) {
        const x = e as { code: number; stdout: string; stderr: string };
        return { code: x.code, stdout: x.stdout, stderr: x.stderr };
      }
    },
    async databaseUrl() {
      const password = (await readFile(join(dataDir, 'postgres-password'), 'utf8')).trim();
      return `postgres://tessera:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/tessera`;
    },
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      await rm(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}
