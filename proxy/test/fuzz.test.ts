/**
 * Fuzzing the proxy's inbound surface on real sockets: thousands of mutated JSON-RPC bodies and
 * headers. Properties: the proxy always answers (no crash, no hang, a valid status), nothing from an
 * unauthenticated or ungranted caller ever reaches the upstream, and nothing that reaches it has member
 * names another parser could read differently (no policy bypass).
 * The generator is seeded, so a failure reproduces: FUZZ_SEED=<n> node --test proxy/test/fuzz.test.ts
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { checkJsonStructure } from '../src/server/json-structure.ts';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { legacyInitialize } from './helpers/legacy-initialize.ts';
import { prng as seeded } from './helpers/prng.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const CASES = Number(process.env.FUZZ_CASES ?? 1500);

/** The shared seeded generator, with the two draws the mutators use. */
function prng(seed: number) {
  const next = seeded(seed);
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
  };
}

const seeds = [
  legacyInitialize(1),
  { jsonrpc: '2.0', id: 'x', method: 'tools/call', params: { name: 'echo', arguments: { message: 'hi' } } },
  { jsonrpc: '2.0', method: 'notifications/initialized' },
  { jsonrpc: '2.0', id: 3, result: {} },
  { jsonrpc: '2.0', id: 4, method: 'resources/read', params: { uri: 'file:///etc/passwd' } },
];
const fragments = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ',',
  ':',
  'null',
  'true',
  '-1e309',
  '\\u0000',
  '\\ud800',
  '"__proto__"',
  '"constructor"',
  '1'.repeat(400),
  '\u0000',
  '\uffff',
];

function mutateBody(r: ReturnType<typeof prng>): string {
  const base = JSON.stringify(r.pick(seeds));
  switch (r.int(9)) {
    case 0: {
      // Flip a byte.
      const i = r.int(base.length);
      return base.slice(0, i) + String.fromCharCode(r.int(256)) + base.slice(i + 1);
    }
    case 1: {
      const i = r.int(base.length);
      return base.slice(0, i) + r.pick(fragments) + base.slice(i);
    }
    case 2:
      return base.slice(0, r.int(base.length));
    case 3:
      return `${'['.repeat(r.int(200))}${base}${']'.repeat(r.int(200))}`;
    case 4: {
      const obj = JSON.parse(base) as Record<string, unknown>;
      const key = r.pick(['id', 'method', 'params', 'jsonrpc', 'result', 'error', '__proto__']);
      obj[key] = r.pick([
        null,
        0,
        -1,
        1.5,
        '',
        [],
        {},
        'x'.repeat(r.int(5000)),
        { name: { $ref: 'http://x' } },
        true,
      ]);
      return JSON.stringify(obj);
    }
    case 5:
      return `[${base},${base}]`;
    case 6:
      return `${base}${r.pick(['', ' ', '\n', 'x', '{}', base])}`;
    case 7: {
      // A member repeated before itself, as is or in another case (Unicode folding included).
      const names = [...base.matchAll(/"([a-zA-Z_]+)":/g)];
      const at = r.pick(names);
      const name = at[1]!;
      const variant = r.pick([
        name,
        name.toUpperCase(),
        name[0]!.toUpperCase() + name.slice(1),
        name.replace('s', '\u017f').replace('k', '\u212a'),
      ]);
      const value = r.pick(['"wipe"', '1', 'null', '{}', '"2.0"']);
      return `${base.slice(0, at.index)}"${variant}":${value},${base.slice(at.index)}`;
    }
    default:
      return Buffer.from(Array.from({ length: r.int(300) }, () => r.int(256))).toString('latin1');
  }
}

function mutateHeaders(r: ReturnType<typeof prng>, auth: string | undefined): Record<string, string> {
  const h: Record<string, string> = {
    'content-type': r.pick([
      'application/json',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'text/plain',
      'application/jsonx',
      '',
    ]),
    accept: r.pick(['application/json, text/event-stream', '*/*', 'text/html', 'application/json', '']),
  };
  if (auth !== undefined) {
    h.authorization = r.pick([
      auth,
      auth,
      auth,
      auth.toLowerCase(),
      `${auth} `,
      auth.replace('Bearer ', 'Bearer  '),
      auth.slice(0, -3),
      `${auth}x`,
      'Bearer',
      'Basic Zm9v',
    ]);
  }
  if (r.int(4) === 0) h['mcp-session-id'] = r.pick(['', 'x', 'a'.repeat(300), '../../etc', '\t']);
  if (r.int(4) === 0) h['mcp-protocol-version'] = r.pick(['2025-11-25', '2026-07-28', 'garbage', '']);
  if (r.int(6) === 0) h.traceparent = r.pick([`00-${'f'.repeat(32)}-${'a'.repeat(16)}-01`, 'zz', '']);
  for (const k of Object.keys(h)) if (h[k] === '') delete h[k];
  return h;
}

let upstream: Server;
let reached = 0;
/** The body the upstream last received. */
let received = '';
let h: Harness;

before(async () => {
  upstream = createServer((req, res) => {
    reached++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received = Buffer.concat(chunks).toString('utf8');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"jsonrpc":"2.0","id":1,"result":{}}');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const url = new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`);
  h = await startHarness({ upstream: createHttpUpstream({ url, log: () => {} }), maxBodyBytes: 8 * 1024 });
});

after(async () => {
  await h?.close();
  upstream.closeAllConnections();
  await new Promise<void>((r) => upstream.close(() => r()));
});

async function send(body: string, headers: Record<string, string>, method = 'POST'): Promise<number> {
  const res = await fetch(`${h.url}/mcp`, {
    method,
    headers,
    body: method === 'GET' ? undefined : body,
    signal: AbortSignal.timeout(5_000),
  });
  await res.arrayBuffer();
  return res.status;
}

test(`fuzz (seed ${SEED}): ungranted and unauthenticated callers never reach the upstream`, async () => {
  const r = prng(SEED);
  const denied = `Bearer ${await h.token({ email: 'eve@example.com', groups: ['sales'] })}`;
  const statuses = new Map<number, number>();
  for (let i = 0; i < CASES; i++) {
    const auth = r.pick([denied, undefined, 'Bearer not.a.jwt', `Bearer ${'A'.repeat(r.int(2000))}`]);
    const status = await send(
      mutateBody(r),
      mutateHeaders(r, auth),
      r.pick(['POST', 'POST', 'POST', 'GET', 'DELETE', 'PUT']),
    );
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    assert.ok(status >= 400 && status < 500, `case ${i}: an ungranted request answered ${status}`);
  }
  assert.equal(reached, 0, `no request reached the upstream (statuses: ${JSON.stringify([...statuses])})`);
});

test(`fuzz (seed ${SEED}): a granted caller always gets an answer, and only well-formed calls reach the upstream`, async () => {
  const r = prng(SEED + 1);
  const allowed = `Bearer ${await h.token()}`;
  reached = 0;
  let forwarded = 0;
  for (let i = 0; i < CASES; i++) {
    const body = mutateBody(r);
    const headers = mutateHeaders(r, allowed);
    const before = reached;
    const status = await send(body, headers);
    assert.ok(status >= 200 && status < 600, `case ${i}: status ${status}`);
    if (reached > before) {
      forwarded++;
      // Whatever reached the upstream was a single JSON-RPC object with a JSON content type, whose
      // member names no parser can read differently from the proxy.
      const parsed = JSON.parse(received) as unknown;
      assert.equal(checkJsonStructure(received, 64), undefined, `case ${i}: forwarded ${received}`);
      assert.ok(
        parsed && typeof parsed === 'object' && !Array.isArray(parsed),
        `case ${i}: forwarded a non-object`,
      );
      assert.match(headers['content-type'] ?? '', /^application\/json/i);
    }
  }
  assert.ok(forwarded > 0, 'some mutated requests were still valid and forwarded');
  // The proxy is still healthy afterwards.
  assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
});
