/**
 * Where the local key provider's keys come from: `TESSERA_ENCRYPTION_KEYS` (base64 32-byte keys,
 * comma-separated, current first) or, when that is unset, the key file
 * `<TESSERA_DATA_DIR>/encryption-keys.json`, created owner-only (0600) at first start.
 * A key file readable by group or others is refused, as ssh refuses such a private key.
 *
 * File format: `{ "version": 1, "keys": [{ "key": "<base64>", "createdAt": "<ISO time>" }, …] }`,
 * current key first.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const KEY_FILE = 'encryption-keys.json';

interface KeyFile {
  version: 1;
  keys: Array<{ key: string; createdAt: string }>;
}

/** @throws TypeError when a key is not base64 of exactly 32 bytes. */
export function parseKeyList(value: string, what: string): Buffer[] {
  const keys = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s, i) => {
      const key = Buffer.from(s, 'base64');
      if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(s) || key.length !== 32)
        throw new TypeError(`${what}: key ${i + 1} must be 32 bytes in base64 (openssl rand -base64 32)`);
      return key;
    });
  if (keys.length === 0) throw new TypeError(`${what}: at least one key is required`);
  return keys;
}

async function readKeyFile(path: string): Promise<KeyFile | undefined> {
  let text: string;
  try {
    const st = await stat(path);
    if ((st.mode & 0o077) !== 0) throw new Error(`${path} is readable by group or others; chmod 600 it`);
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = JSON.parse(text) as KeyFile;
  if (parsed?.version !== 1 || !Array.isArray(parsed.keys) || parsed.keys.length === 0)
    throw new Error(`${path}: not a Tessera key file (version 1 with at least one key)`);
  return parsed;
}

async function writeKeyFile(path: string, file: KeyFile, exclusive: boolean): Promise<void> {
  const body = `${JSON.stringify(file, null, 2)}\n`;
  if (exclusive) {
    await writeFile(path, body, { mode: 0o600, flag: 'wx' });
    return;
  }
  // Replace atomically: a crash mid-write must never leave a half-written key file.
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, body, { mode: 0o600, flag: 'wx' });
  await rename(tmp, path);
}

function keysOf(file: KeyFile, path: string): Buffer[] {
  return parseKeyList(file.keys.map((k) => k.key).join(','), path);
}

/** The local keys, current first: from `configured` (the env value) or the key file, created when missing. */
export async function loadLocalKeys(dataDir: string, configured: string | undefined): Promise<Buffer[]> {
  if (configured) return parseKeyList(configured, 'TESSERA_ENCRYPTION_KEYS');
  const path = join(dataDir, KEY_FILE);
  const existing = await readKeyFile(path);
  if (existing) return keysOf(existing, path);
  await mkdir(dataDir, { recursive: true, mode: 0o711 });
  const fresh: KeyFile = {
    version: 1,
    keys: [{ key: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() }],
  };
  try {
    await writeKeyFile(path, fresh, true);
  } catch (err) {
    // Another process created it first: use theirs.
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return keysOf((await readKeyFile(path))!, path);
}

/**
 * Puts a new current key at the head of the key file (older keys stay, so existing data keys still
 * open until they are re-wrapped). Returns the new key ring.
 */
export async function addLocalKey(dataDir: string): Promise<Buffer[]> {
  const path = join(dataDir, KEY_FILE);
  const existing = await readKeyFile(path);
  if (!existing) throw new Error(`${path} does not exist; nothing to rotate`);
  existing.keys.unshift({ key: randomBytes(32).toString('base64'), createdAt: new Date().toISOString() });
  await writeKeyFile(path, existing, false);
  return keysOf(existing, path);
}

/** Keeps only the current key in the key file, once every data key is wrapped by it. */
export async function retireOldLocalKeys(dataDir: string): Promise<number> {
  const path = join(dataDir, KEY_FILE);
  const existing = await readKeyFile(path);
  if (!existing) return 0;
  const retired = existing.keys.length - 1;
  existing.keys = existing.keys.slice(0, 1);
  await writeKeyFile(path, existing, false);
  return retired;
}
