/**
 * `TESSERA_PROXY_AUDIT_DURABILITY=disk` when the disk fails, with a real failure: the proxy's spool
 * lives on an ext2 file system in a loop device whose backing file sits on a small tmpfs. Once that
 * tmpfs is full, the kernel cannot write the spool's pages back and `fdatasync` fails (ENOSPC or
 * EIO). The real proxy process must then cut the answer rather than send it, and exit with status 1
 * so that it is restarted.
 *
 * Building the device needs root (mount, losetup); elsewhere the file is skipped.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from './helpers/free-port.ts';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'tessera-failing-disk-'));
const backing = join(root, 'backing');
const mnt = join(root, 'mnt');
let loop = '';

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });

/** A 64 MiB ext2 (no journal to abort) whose blocks live on 4 MiB of tmpfs; '' when it cannot be built. */
function failingDisk(): string {
  if (process.getuid?.() !== 0) return 'needs root to mount a loop device';
  try {
    mkdirSync(backing);
    mkdirSync(mnt);
    run('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', backing]);
    run('truncate', ['-s', '64M', join(backing, 'disk.img')]);
    run('mkfs.ext2', ['-q', '-F', join(backing, 'disk.img')]);
    loop = run('losetup', ['-f', '--show', join(backing, 'disk.img')])
      .toString()
      .trim();
    run('mount', [loop, mnt]);
    return '';
  } catch (err) {
    return `cannot build a loop device here: ${(err as Error).message.split('\n')[0]}`;
  }
}

/** Fills the tmpfs under the loop device, so that no new block of it can be written. */
function fillBacking(): void {
  const fd = openSync(join(backing, 'filler'), 'w');
  const chunk = Buffer.alloc(64 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    assert.equal((err as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(fd);
  }
}

const skip = failingDisk() || false;

describe('audit durability disk, on a disk that fails', { skip, timeout: 60_000 }, () => {
  let proxy: ChildProcess;
  let port: number;
  let stderr = '';

  before(async () => {
    port = await freePort();
    proxy = spawn(process.execPath, [main], {
      env: {
        PATH: process.env.PATH,
        TESSERA_PROXY_MODE: 'sidecar',
        TESSERA_PROXY_SERVER: 'ledger',
        TESSERA_PROXY_LISTEN: `127.0.0.1:${port}`,
        TESSERA_PROXY_UPSTREAM_URL: 'http://127.0.0.1:9/mcp',
        // No control plane: the proxy refuses as not ready, and that refusal is audited too.
        TESSERA_CONTROL_PLANE_URL: 'http://127.0.0.1:9',
        TESSERA_MESH_TOKEN: 'unused',
        TESSERA_PROXY_SNAPSHOT_DIR: join(root, 'snapshot'),
        TESSERA_PROXY_AUDIT_SPOOL_DIR: join(mnt, 'spool'),
        TESSERA_PROXY_AUDIT_DURABILITY: 'disk',
        TESSERA_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    proxy.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    for (let i = 0; i < 200; i++) {
      try {
        if ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok) return;
      } catch {
        // Not listening yet.
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`the proxy did not start: ${stderr}`);
  });

  after(async () => {
    if (proxy.exitCode === null && proxy.signalCode === null) {
      const gone = new Promise((resolve) => proxy.once('exit', resolve));
      proxy.kill('SIGKILL');
      await gone;
    }
    // The file system, then its device, then the tmpfs that backs the device.
    const steps: [string, string[]][] = [
      ['umount', [mnt]],
      ...(loop ? [['losetup', ['-d', loop]] as [string, string[]]] : []),
      ['umount', [backing]],
    ];
    for (const [cmd, args] of steps) {
      try {
        run(cmd, args);
      } catch {
        // Not set up (the set-up failed half way).
      }
    }
    rmSync(root, { recursive: true, force: true });
  });

  test('an answer whose event cannot be flushed is cut, and the proxy exits with 1', async () => {
    const ok = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', body: '{}' });
    assert.equal(ok.status, 503, 'while the disk works, the not-ready refusal is flushed and sent');
    await ok.arrayBuffer();

    fillBacking();
    const exited = new Promise<number | null>((resolve) => proxy.once('exit', (code) => resolve(code)));
    // Events that still fit in a block the device has already stored can be flushed; the first one
    // that needs a new block cannot.
    let answered = 0;
    let cut: Error | undefined;
    while (!cut && answered < 200) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/mcp`, { method: 'POST', body: '{}' });
        await res.arrayBuffer();
        assert.equal(res.status, 503);
        answered++;
      } catch (err) {
        cut = err as Error;
      }
    }
    assert.ok(cut, `all ${answered} answers went out although the disk was full`);
    assert.match(String(cut.cause ?? cut), /closed|terminated|ECONNRESET|socket/i);
    assert.equal(await exited, 1);
    assert.match(stderr, /audit durability is lost: the proxy stops answering/);
    assert.match(stderr, /could not flush the audit spool to disk: (ENOSPC|EIO)/);
  });
});
