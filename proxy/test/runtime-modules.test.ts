/**
 * What the running proxy loads. Every sidecar pays in private memory for each module it loads, and
 * the mesh client was rewritten to do without the Connect and protobuf-es runtimes (about 15 MB per
 * process); this test keeps them out. It starts the real proxy process (no control plane: the
 * modules it loads at start do not depend on one) and records every module it resolves. (A policy
 * with CEL conditions loads `@bufbuild/cel`, and protobuf-es with it, when it arrives: that cost is
 * paid only by the servers that use conditions.)
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from './helpers/free-port.ts';

const main = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const hook = fileURLToPath(new URL('./helpers/record-modules.ts', import.meta.url));

test('the proxy runs without the Connect, protobuf-es or generated mesh code runtimes, and without other modes’ modules', {
  timeout: 60_000,
}, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-modules-'));
  const file = join(dir, 'modules.txt');
  const child = spawn(process.execPath, ['--import', hook, main], {
    env: {
      PATH: process.env.PATH,
      TESSERA_RECORD_MODULES_FILE: file,
      TESSERA_MESH_TOKEN: 'm'.repeat(40),
      TESSERA_CONTROL_PLANE_URL: `http://127.0.0.1:${await freePort()}`,
      TESSERA_PROXY_SERVER: 'demo',
      TESSERA_PROXY_UPSTREAM_URL: 'http://127.0.0.1:9/mcp',
      TESSERA_PROXY_LISTEN: `127.0.0.1:${await freePort()}`,
      TESSERA_PROXY_AUDIT_SPOOL_DIR: join(dir, 'spool'),
      TESSERA_PROXY_SNAPSHOT_DIR: join(dir, 'snapshot'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d));
  child.stderr.on('data', (d: Buffer) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  // Started when it says so; the discovery stream is retrying toward the absent control plane by then.
  for (let i = 0; i < 600 && !output.includes('"msg":"listening"'); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.match(output, /"msg":"listening"/, `the proxy did not start:\n${output}`);
  await new Promise((r) => setTimeout(r, 300));
  child.kill('SIGTERM');
  assert.equal(await exited, 0, output);
  const modules = readFileSync(file, 'utf8').split('\n');
  // The recording works: the proxy's own modules are in it.
  assert.ok(
    modules.some((m) => m.endsWith('/proxy/src/proxy.ts')),
    modules.join('\n'),
  );
  assert.ok(modules.some((m) => m.endsWith('/proxy/src/mesh-api/connect-client.ts')));
  const forbidden = modules.filter((m) => /\/node_modules\/(@connectrpc|@bufbuild)\/|\/api\/gen\//.test(m));
  assert.deepEqual(forbidden, [], 'the proxy loaded runtimes it should not need');
  // Its HTTP server is its own: node:http (whose server also loads Node's bundled undici) stays out.
  assert.deepEqual(
    modules.filter((m) => m === 'node:http' || m === 'node:https' || m.includes('/node_modules/undici/')),
    [],
    'the sidecar loaded node:http or undici',
  );
  // A sidecar in front of an HTTP server does not load what other modes need.
  const otherModes = modules.filter((m) =>
    /\/proxy\/src\/(upstream\/stdio-|upstream\/sse-legacy|egress\/egress-)/.test(m),
  );
  assert.deepEqual(otherModes, [], 'the sidecar loaded the modules of other modes');
});
