/**
 * Interoperability through the proxy: real MCP servers from npm (server-everything over stdio and
 * over Streamable HTTP, server-filesystem on a temporary directory, server-memory on a temporary
 * file) driven by the official TypeScript SDK client and by the Python MCP SDK client
 * (`py_client.py`, run with the interpreter of the virtualenv that `.ci/run` installs).
 *
 * Without that virtualenv the Python cases are skipped, except under CI (`CI=true`), where a missing
 * interpreter fails the run.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createHttpUpstream } from '../../src/upstream/http-upstream.ts';
import { createStdioUpstream } from '../../src/upstream/stdio-upstream.ts';
import type { Upstream } from '../../src/upstream/upstream.ts';
import { startEverythingHttp } from '../helpers/everything-http.ts';
import { type Harness, startHarness } from '../helpers/harness.ts';
import { python, pythonSkip } from '../helpers/python-sdk.ts';

const PY_CLIENT = fileURLToPath(new URL('./py_client.py', import.meta.url));
const entry = (pkg: string) =>
  fileURLToPath(import.meta.resolve(`@modelcontextprotocol/${pkg}/dist/index.js`));
const noLog = () => {};
const CASE = { timeout: 120_000 };

const stdio = (args: string[], env?: Record<string, string>): Upstream =>
  createStdioUpstream({ command: process.execPath, args, env, log: noLog });

/** Runs the Python client; resolves with its JSON output. */
function runPython(
  h: Harness,
  scenario: string,
  token: string,
  arg?: string,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      python,
      [PY_CLIENT, `${h.url}/mcp`, scenario, ...(arg ? [arg] : [])],
      { env: { ...process.env, TESSERA_TOKEN: token }, timeout: 90_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`py_client.py ${scenario} failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>);
      },
    );
  });
}

async function tsClient(h: Harness): Promise<Client> {
  const client = new Client({ name: 'interop-ts', version: '1' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), {
      requestInit: { headers: { authorization: `Bearer ${await h.token()}` } },
    }),
  );
  return client;
}

const textOf = (r: Record<string, unknown>) =>
  ((r.content ?? []) as Array<{ type: string; text?: string }>).map((c) => c.text ?? '').join('\n');

describe('server-everything over stdio', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ upstream: stdio([entry('server-everything'), 'stdio']) });
  });
  after(() => h?.close());

  test('the Python SDK client lists tools and calls echo', { ...CASE, skip: pythonSkip }, async () => {
    const out = await runPython(h, 'everything', await h.token());
    assert.ok((out.tools as string[]).includes('echo'));
    assert.match((out.echo as string[]).join(''), /from python/);
    assert.equal(out.isError, false);
    assert.equal(h.audit.find((a) => a.method === 'tools/call' && a.target === 'echo')?.outcome, 'ok');
  });
});

describe('server-everything over Streamable HTTP', () => {
  let child: ChildProcess;
  let h: Harness;
  before(async () => {
    const everything = await startEverythingHttp();
    child = everything.child;
    h = await startHarness({ upstream: createHttpUpstream({ url: everything.url, log: noLog }) });
  });
  after(async () => {
    await h?.close();
    child?.kill();
  });

  test('the Python SDK client lists tools and calls echo', { ...CASE, skip: pythonSkip }, async () => {
    const out = await runPython(h, 'everything', await h.token());
    assert.ok((out.tools as string[]).includes('echo'));
    assert.match((out.echo as string[]).join(''), /from python/);
  });
});

describe('server-filesystem on a temporary directory', () => {
  let dir: string;
  let h: Harness;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-fs-'));
    h = await startHarness({ upstream: stdio([entry('server-filesystem'), dir]) });
  });
  after(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test(
    'the TypeScript SDK client writes, reads and lists; paths outside the root are refused',
    CASE,
    async () => {
      const client = await tsClient(h);
      const { tools } = await client.listTools();
      assert.ok(tools.some((t) => t.name === 'read_text_file'));
      const path = join(dir, 'from-ts.txt');
      const write = await client.callTool({
        name: 'write_file',
        arguments: { path, content: 'written by ts' },
      });
      assert.notEqual(write.isError, true, textOf(write));
      assert.equal(readFileSync(path, 'utf8'), 'written by ts');
      const read = await client.callTool({ name: 'read_text_file', arguments: { path } });
      assert.equal(textOf(read), 'written by ts');
      const outside = await client.callTool({ name: 'read_text_file', arguments: { path: '/etc/hostname' } });
      assert.equal(outside.isError, true);
      assert.match(textOf(outside), /denied|outside|not allowed/i);
      await client.close();
    },
  );

  test('the Python SDK client writes, reads and lists; paths outside the root are refused', {
    ...CASE,
    skip: pythonSkip,
  }, async () => {
    const out = await runPython(h, 'filesystem', await h.token(), dir);
    assert.equal(out.writeError, false);
    assert.equal(readFileSync(join(dir, 'hello.txt'), 'utf8'), 'written by python');
    assert.deepEqual(out.read, ['written by python']);
    assert.match((out.listing as string[]).join(''), /\[FILE\] hello\.txt/);
    assert.equal(out.outsideError, true);
  });
});

describe('server-memory on a temporary file', () => {
  let dir: string;
  let h: Harness;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-memory-'));
    h = await startHarness({
      upstream: stdio([entry('server-memory')], { MEMORY_FILE_PATH: join(dir, 'memory.jsonl') }),
    });
  });
  after(async () => {
    await h?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the TypeScript SDK client creates an entity and finds it', CASE, async () => {
    const client = await tsClient(h);
    await client.callTool({
      name: 'create_entities',
      arguments: { entities: [{ name: 'ts-client', entityType: 'sdk', observations: ['speaks MCP'] }] },
    });
    const found = await client.callTool({ name: 'search_nodes', arguments: { query: 'ts-client' } });
    assert.match(textOf(found), /"ts-client"/);
    await client.close();
    assert.match(readFileSync(join(dir, 'memory.jsonl'), 'utf8'), /ts-client/);
  });

  test('the Python SDK client creates an entity and finds it', { ...CASE, skip: pythonSkip }, async () => {
    const out = await runPython(h, 'memory', await h.token());
    assert.match((out.search as string[]).join(''), /"python-client"/);
    assert.match((out.graph as string[]).join(''), /"python-client"/);
  });
});
