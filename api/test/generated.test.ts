/**
 * Fails when api/gen is stale: regenerates from proto/ into a scratch directory and compares
 * every file byte for byte with what is committed. Fix with `npm run generate`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const apiDir = join(import.meta.dirname, '..');
const binDir = join(apiDir, '..', 'node_modules', '.bin');

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

test('generated code in api/gen matches the protobuf sources', async () => {
  const out = await mkdtemp(join(tmpdir(), 'tessera-gen-'));
  try {
    await promisify(execFile)(join(binDir, 'buf'), ['generate', '--output', out], {
      cwd: apiDir,
      env: { ...process.env, PATH: `${binDir}:${process.env.PATH}` },
    });
    const committed = await listFiles(join(apiDir, 'gen'));
    const fresh = await listFiles(join(out, 'gen'));
    assert.deepEqual(committed, fresh, 'the set of generated files differs: run `npm run generate`');
    for (const file of fresh) {
      const [a, b] = await Promise.all([
        readFile(join(apiDir, 'gen', file), 'utf8'),
        readFile(join(out, 'gen', file), 'utf8'),
      ]);
      assert.equal(a, b, `api/gen/${file} is stale: run \`npm run generate\``);
    }
  } finally {
    await rm(out, { recursive: true, force: true });
  }
});

test('the proto sources pass buf lint', async () => {
  await promisify(execFile)(join(binDir, 'buf'), ['lint'], { cwd: apiDir });
});
