import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { addLocalKey, KEY_FILE, loadLocalKeys, parseKeyList, retireOldLocalKeys } from './local-keyring.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));
async function scratch() {
  const d = await mkdtemp(join(tmpdir(), 'tessera-keys-'));
  dirs.push(d);
  return d;
}

describe('local key ring', () => {
  test('the key file is created 0600 at first start and reused afterwards', async () => {
    const dir = await scratch();
    const first = await loadLocalKeys(dir, undefined);
    assert.equal(first.length, 1);
    assert.equal((await stat(join(dir, KEY_FILE))).mode & 0o777, 0o600);
    assert.deepEqual(await loadLocalKeys(dir, undefined), first);
  });

  test('a key file readable by others is refused', async () => {
    const dir = await scratch();
    await loadLocalKeys(dir, undefined);
    await chmod(join(dir, KEY_FILE), 0o644);
    await assert.rejects(loadLocalKeys(dir, undefined), /readable by group or others/);
  });

  test('adding a key puts it first and keeps the old one until retired', async () => {
    const dir = await scratch();
    const [old] = await loadLocalKeys(dir, undefined);
    const ring = await addLocalKey(dir);
    assert.equal(ring.length, 2);
    assert.deepEqual(ring[1], old);
    assert.equal((await stat(join(dir, KEY_FILE))).mode & 0o777, 0o600);
    assert.equal(await retireOldLocalKeys(dir), 1);
    assert.deepEqual(await loadLocalKeys(dir, undefined), [ring[0]]);
  });

  test('keys from the environment win over the file and are validated', async () => {
    const a = randomBytes(32);
    const b = randomBytes(32);
    const dir = await scratch();
    assert.deepEqual(await loadLocalKeys(dir, `${a.toString('base64')}, ${b.toString('base64')}`), [a, b]);
    assert.throws(() => parseKeyList('c2hvcnQ=', 'X'), /key 1 must be 32 bytes/);
    assert.throws(() => parseKeyList('not base64!!', 'X'), /must be 32 bytes/);
    assert.throws(() => parseKeyList(' , ', 'X'), /at least one key/);
  });
});
