/**
 * Tools from PyPI that `.ci/run` installs into version-keyed venvs under ~/.cache/tessera:
 * moto (a local AWS KMS) and PostgreSQL 18's pg_dump.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';

const cache = join(homedir(), '.cache', 'tessera');

function need(path: string, what: string): string {
  if (!existsSync(path)) throw new Error(`${what} is missing at ${path}; run .ci/run (it installs it)`);
  return path;
}

/** The pg_dump that matches the embedded PostgreSQL's major version. */
export function pgDumpPath(): string {
  const lib = join(cache, 'pgdump-18.6.3', 'lib');
  const py = existsSync(lib) ? readdirSync(lib).find((d) => d.startsWith('python3')) : undefined;
  return need(
    join(lib, py ?? 'python3', 'site-packages', 'embedded_postgres', 'pginstall', 'bin', 'pg_dump'),
    'pg_dump 18',
  );
}

export interface Moto {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts moto's server on a free port and waits until it answers. */
export async function startMoto(): Promise<Moto> {
  const python = need(join(cache, 'moto-5.2.5', 'bin', 'python3'), 'moto');
  const port = await freePort();
  const child: ChildProcess = spawn(python, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const endpoint = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`moto exited: ${stderr}`);
    const ok = await fetch(`${endpoint}/moto-api/`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 600) {
      child.kill('SIGKILL');
      throw new Error(`moto did not start in 60 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    endpoint,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
