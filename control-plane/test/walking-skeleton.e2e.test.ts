/**
 * The walking skeleton end to end: `tessera start` (control plane on embedded Postgres, the demo
 * server-everything over stdio behind a local proxy configured over the mesh stream), driven by the
 * official MCP TypeScript SDK client, with the audit checked in Postgres.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import pg from 'pg';
import { startTessera, type TesseraProcess } from './helpers/tessera-process.ts';

let tessera: TesseraProcess;
let adminToken = '';

before(async () => {
  tessera = await startTessera();
});

after(async () => {
  const code = await tessera?.stop();
  if (code !== 0 || process.env.E2E_DUMP) process.stderr.write(tessera.stderr());
  assert.equal(code, 0, 'tessera exits cleanly on SIGTERM');
});

const initialize = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'e2e', version: '1' } },
});

function post(token: string | undefined, body: string) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (token) headers.authorization = `Bearer ${token}`;
  return fetch(tessera.mcpUrl, { method: 'POST', headers, body });
}

async function connect(token: string): Promise<Client> {
  const client = new Client({ name: 'tessera-e2e', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(tessera.mcpUrl), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return client;
}

test('npm start prints the MCP URL and how to get a token', () => {
  assert.match(tessera.mcpUrl, /^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  assert.match(tessera.stdout(), /tessera token --user admin@example\.com --server everything/);
});

test('the first start prints the bootstrap admin token, the one kept in the data directory', async () => {
  const printed = /Bootstrap admin token \(shown at first start only\): (\S+)/.exec(tessera.stdout());
  assert.ok(printed, tessera.stdout());
  assert.equal(printed[1], (await readFile(join(tessera.dataDir, 'admin-token'), 'utf8')).trim());
});

test('tessera token prints only a token', async () => {
  const r = await tessera.cli(['token', '--user', 'admin@example.com', '--server', 'everything']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
  adminToken = r.stdout.trim();
});

test('tessera token refuses an unknown server and bad arguments', async () => {
  const unknown = await tessera.cli(['token', '--user', 'admin@example.com', '--server', 'nope']);
  assert.notEqual(unknown.code, 0);
  assert.equal(unknown.stdout, '');
  assert.match(unknown.stderr, /server "nope" does not exist/);
  const badUser = await tessera.cli(['token', '--user', 'not-an-email', '--server', 'everything']);
  assert.notEqual(badUser.code, 0);
  assert.match(badUser.stderr, /"user" must be an email address/);
  const missing = await tessera.cli(['token', '--server', 'everything']);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /--user <email> is required/);
});

test('tessera proxy-status shows the demo proxy with every type synced', async () => {
  const r = await tessera.cli(['proxy-status']);
  assert.equal(r.code, 0, r.stderr);
  const row = r.stdout.split('\n').find((l) => l.startsWith('local-everything'));
  assert.ok(row, r.stdout);
  assert.match(row, /\beverything\s+stdio\s+cp-\w+/);
  assert.equal(row.match(/SYNCED [0-9a-f]{8}/g)?.length, 4, row);
});

test('the local proxy runs with the sidecar memory settings: small semi-spaces, mmap threshold', async () => {
  // The children of `tessera start` whose command line runs the proxy (Linux /proc).
  const proxies: { cmdline: string[]; environ: string[] }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== tessera.pid) continue;
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0');
      if (!cmdline.some((a) => a.endsWith(join('proxy', 'src', 'main.ts')))) continue;
      proxies.push({ cmdline, environ: (await readFile(`/proc/${entry}/environ`, 'utf8')).split('\0') });
    } catch {
      // A process that ended while the list was read.
    }
  }
  assert.equal(proxies.length, 1, 'the demo server has one local proxy');
  assert.ok(proxies[0]!.cmdline.includes('--max-semi-space-size=1'), proxies[0]!.cmdline.join(' '));
  assert.ok(proxies[0]!.environ.includes('MALLOC_MMAP_THRESHOLD_=8192'));
});

test('without a token: 401 with resource_metadata, and the RFC 9728 document', async () => {
  const res = await post(undefined, initialize);
  assert.equal(res.status, 401);
  const challenge = res.headers.get('www-authenticate') ?? '';
  const m = /^Bearer scope="mcp", resource_metadata="([^"]+)"$/.exec(challenge);
  assert.ok(m, `challenge: ${challenge}`);
  const prm = await fetch(m[1]!);
  assert.equal(prm.status, 200);
  const doc = (await prm.json()) as { resource: string; authorization_servers: string[] };
  assert.equal(doc.resource, tessera.mcpUrl);
  assert.deepEqual(doc.authorization_servers, [tessera.publicUrl]);

  const client = new Client({ name: 'no-token', version: '1' });
  await assert.rejects(client.connect(new StreamableHTTPClientTransport(new URL(tessera.mcpUrl))));
});

test('with a token: initialize, tools/list and tools/call echo through the mesh', async () => {
  const client = await connect(adminToken);
  try {
    const { tools } = await client.listTools();
    assert.ok(
      tools.some((t) => t.name === 'echo'),
      'server-everything lists echo',
    );
    const result = await client.callTool({ name: 'echo', arguments: { message: 'hello through the mesh' } });
    const text = (result.content as Array<{ type: string; text?: string }>).map((c) => c.text ?? '').join('');
    assert.match(text, /hello through the mesh/);
  } finally {
    await client.close();
  }
});

test('a user without the grant is refused with 403', async () => {
  const r = await tessera.cli(['token', '--user', 'mallory@example.com', '--server', 'everything']);
  assert.equal(r.code, 0, r.stderr);
  const res = await post(r.stdout.trim(), initialize);
  assert.equal(res.status, 403);
  const body = (await res.json()) as { id: number; error: { code: number; message: string } };
  assert.equal(body.id, 1);
  assert.match(body.error.message, /no rule allows initialize for "mallory@example.com"/);
  await assert.rejects(connect(r.stdout.trim()));
});

test('a grant change reaches the running proxy over the mesh stream', async () => {
  const adminApiToken = (await readFile(join(tessera.dataDir, 'admin-token'), 'utf8')).trim();
  const res = await fetch(`${tessera.publicUrl}/api/v1/servers/everything/grants`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${adminApiToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ users: ['admin@example.com'], groups: ['auditors'] }),
  });
  assert.equal(res.status, 200);
  const r = await tessera.cli([
    'token',
    '--user',
    'mallory@example.com',
    '--server',
    'everything',
    '--group',
    'auditors',
  ]);
  // The push is asynchronous (debounced); poll until the proxy enforces the new grant.
  let status = 0;
  for (let i = 0; i < 100 && status !== 200; i++) {
    status = (await post(r.stdout.trim(), initialize)).status;
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(status, 200);
  const client = await connect(r.stdout.trim());
  await client.close();
});

test('bad tokens and bad bodies get clear errors', async () => {
  const garbage = await post('not.a.jwt', initialize);
  assert.equal(garbage.status, 401);
  assert.match(garbage.headers.get('www-authenticate') ?? '', /error="invalid_token"/);

  const malformed = await post(adminToken, '{"jsonrpc":"2.0",');
  assert.equal(malformed.status, 400);
  assert.equal(((await malformed.json()) as { error: { code: number } }).error.code, -32700);

  const batch = await post(adminToken, `[${initialize}]`);
  assert.equal(batch.status, 400);

  const unknownSession = await fetch(tessera.mcpUrl, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${adminToken}`,
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-session-id': 'no-such-session',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
  });
  assert.equal(unknownSession.status, 404);
});

test('the audit rows are in Postgres', async () => {
  const db = new pg.Client({ connectionString: await tessera.databaseUrl() });
  await db.connect();
  try {
    // Audit is shipped asynchronously in batches; wait for it (bounded) rather than assume a time.
    let rows: Array<Record<string, string>> = [];
    for (let i = 0; i < 100; i++) {
      ({ rows } = await db.query(
        `SELECT user_name, server, method, target, outcome, http_status, latency_us, request_bytes, response_bytes,
                trace_id
           FROM audit_events ORDER BY time`,
      ));
      if (rows.some((r) => r.outcome === 'invalid') && rows.some((r) => r.method === 'tools/call')) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const call = rows.find((r) => r.method === 'tools/call' && r.target === 'echo');
    assert.ok(call, `a tools/call echo row in ${JSON.stringify(rows)}`);
    assert.equal(call.user_name, 'admin@example.com');
    assert.equal(call.server, 'everything');
    assert.equal(call.outcome, 'ok');
    assert.equal(Number(call.http_status), 200);
    assert.ok(Number(call.latency_us) > 0);
    assert.ok(Number(call.request_bytes) > 0 && Number(call.response_bytes) > 0);
    assert.match(call.trace_id!, /^[0-9a-f]{32}$/, 'the trace id the proxy handled the call under');
    assert.ok(rows.some((r) => r.method === 'initialize' && r.outcome === 'ok'));
    assert.ok(rows.some((r) => r.method === 'tools/list' && r.outcome === 'ok'));
    const seen = JSON.stringify(rows.map((r) => [r.user_name, r.method, r.outcome]));
    assert.ok(
      rows.some((r) => r.user_name === 'mallory@example.com' && r.outcome === 'denied'),
      seen,
    );
    assert.ok(rows.some((r) => r.user_name === '' && r.outcome === 'unauthenticated'));
    assert.ok(
      rows.some((r) => r.outcome === 'invalid'),
      'malformed bodies are audited',
    );
  } finally {
    await db.end();
  }
});
