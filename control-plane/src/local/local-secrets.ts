/**
 * Secrets of a local installation that are generated once and kept in the data directory with
 * owner-only permissions: the admin API token and the mesh bootstrap token.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Returns the configured value, else the one kept in `<dataDir>/<file>`, else a new one (then kept). */
export async function localSecret(
  dataDir: string,
  file: string,
  configured: string | undefined,
): Promise<string> {
  if (configured) return configured;
  const path = join(dataDir, file);
  try {
    const existing = (await readFile(path, 'utf8')).trim();
    if (existing.length >= 32) return existing;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  const value = randomBytes(32).toString('base64url');
  // wx: never overwrite a token another process wrote in the meantime.
  try {
    await writeFile(path, `${value}\n`, { mode: 0o600, flag: 'wx' });
    return value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return (await readFile(path, 'utf8')).trim();
    throw err;
  }
}
