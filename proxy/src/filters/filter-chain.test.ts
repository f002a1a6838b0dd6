import assert from 'node:assert/strict';
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import type { FilterIR } from '../ir/proxy-config.ts';
import { compileGlobs } from '../policies/glob.ts';
import { runFilters, selectFilters } from './filter-chain.ts';
import { sign } from './filter-webhook.ts';

const SECRET = 'a-test-secret-of-32-characters!!';
const seen: Array<{ path: string; body: Record<string, unknown>; signatureOk: boolean }> = [];

/** The webhook fixture: its path chooses its behaviour; it checks every signature it receives. */
function hook(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    const ts = String(req.headers['x-tessera-timestamp']);
    const want = Buffer.from(sign(SECRET, ts, text));
    const got = Buffer.from(String(req.headers['x-tessera-signature']));
    const signatureOk = want.length === got.length && timingSafeEqual(want, got);
    seen.push({ path: req.url ?? '', body: JSON.parse(text), signatureOk });
    const json = (status: number, body: string) =>
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    switch (req.url) {
      case '/allow':
        return json(200, '{"decision":"allow"}');
      case '/deny':
        return json(200, '{"decision":"deny","reason":"contains a credit card number"}');
      case '/mutate':
        return json(
          200,
          JSON.stringify({ decision: 'mutate', params: { name: 'search', arguments: { q: 'redacted' } } }),
        );
      case '/retarget':
        return json(
          200,
          JSON.stringify({ decision: 'mutate', params: { name: 'delete_all', arguments: {} } }),
        );
      case '/mutate-result':
        return json(200, JSON.stringify({ decision: 'mutate', result: { content: [] } }));
      case '/slow':
        return void setTimeout(() => json(200, '{"decision":"allow"}'), 5000).unref();
      case '/500':
        return json(500, '{"decision":"allow"}');
      case '/malformed':
        return json(200, '{"decision":');
      case '/unknown':
        return json(200, '{"decision":"maybe"}');
      default:
        return json(404, '{}');
    }
  });
}

const server = createServer(hook);
let base = '';
before(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
});

function filter(path: string, extra: Partial<FilterIR> = {}): FilterIR {
  return {
    name: path.slice(1).replace(/[^a-z0-9]/g, '') || 'x',
    url: new URL(path, base),
    phase: 'request',
    methods: compileGlobs(['tools/call']),
    targets: compileGlobs([]),
    timeoutMs: 2000,
    mayMutate: false,
    secret: SECRET,
    ...extra,
  };
}

const ctx = () => ({
  server: 'files',
  principal: { name: 'ada@example.com', subject: 'u1', groups: ['eng'], client_id: 'cli' },
  method: 'tools/call',
  target: 'search',
  traceId: 'a'.repeat(32),
});
const request = {
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'search', arguments: { q: '4111 1111 1111 1111' } },
};

test('allow: signed envelope, message unchanged', async () => {
  seen.length = 0;
  const r = await runFilters([filter('/allow')], ctx(), request);
  assert.equal(r.ok, true);
  assert.equal(r.ok && r.changed, false);
  assert.equal(seen[0]!.signatureOk, true);
  assert.deepEqual(seen[0]!.body.request, request);
  assert.equal(seen[0]!.body.phase, 'request');
  assert.deepEqual(seen[0]!.body.principal, ctx().principal);
  assert.equal(r.decisions[0]!.decision, 'allow');
});

test("deny stops the chain with the filter's reason", async () => {
  seen.length = 0;
  const r = await runFilters([filter('/deny'), filter('/allow')], ctx(), request);
  assert.deepEqual(r.ok ? undefined : [r.failed, r.reason], [false, 'contains a credit card number']);
  assert.equal(seen.length, 1);
});

test('mutate is applied when permitted, and the next filter sees the result', async () => {
  seen.length = 0;
  const r = await runFilters([filter('/mutate', { mayMutate: true }), filter('/allow')], ctx(), request);
  assert.ok(r.ok);
  assert.equal(r.changed, true);
  assert.deepEqual(r.message.params, { name: 'search', arguments: { q: 'redacted' } });
  assert.deepEqual((seen[1]!.body.request as { params: unknown }).params, r.message.params);
});

test('mutate without permission denies', async () => {
  const r = await runFilters([filter('/mutate')], ctx(), request);
  assert.equal(r.ok, false);
  assert.match(r.ok ? '' : r.reason, /not allowed to mutate/);
  assert.equal(r.decisions[0]!.decision, 'deny');
});

test('a mutation that changes the target fails closed', async () => {
  const r = await runFilters([filter('/retarget', { mayMutate: true })], ctx(), request);
  assert.deepEqual(r.ok ? undefined : [r.failed, r.reason], [
    true,
    'filter "retarget" failed: a mutation must not change the target (name or uri)',
  ]);
});

test('response phase: mutate replaces the result', async () => {
  const response = { jsonrpc: '2.0', id: 7, result: { content: [{ type: 'text', text: 'secret' }] } };
  const f = filter('/mutate-result', { phase: 'response', mayMutate: true });
  const r = await runFilters([f], ctx(), request, response);
  assert.ok(r.ok);
  assert.deepEqual(r.message, { jsonrpc: '2.0', id: 7, result: { content: [] } });
  assert.deepEqual(seen.at(-1)!.body.response, response);
});

test('failures fail closed: slow, 500, malformed, unknown decision, unreachable', async () => {
  const cases: Array<[FilterIR, RegExp]> = [
    [filter('/slow', { timeoutMs: 200 }), /no answer within 200 ms/],
    [filter('/500'), /answered HTTP 500/],
    [filter('/malformed'), /not valid JSON/],
    [filter('/unknown'), /"decision" must be/],
    [{ ...filter('/allow'), url: new URL('http://127.0.0.1:1/') }, /unreachable/],
  ];
  for (const [f, reason] of cases) {
    const r = await runFilters([f], ctx(), request);
    assert.equal(r.ok, false);
    assert.equal(r.ok ? false : r.failed, true);
    assert.match(r.ok ? '' : r.reason, reason);
    assert.equal(r.decisions[0]!.decision, 'error');
  }
});

test('selectFilters: by phase, method and target', () => {
  const fs = [
    filter('/a', { targets: compileGlobs(['write_*']) }),
    filter('/b', { phase: 'response' }),
    filter('/c', { methods: compileGlobs(['prompts/*']) }),
  ];
  assert.deepEqual(
    selectFilters(fs, 'request', 'tools/call', 'write_file').map((f) => f.name),
    ['a'],
  );
  assert.deepEqual(
    selectFilters(fs, 'request', 'tools/call', 'read_file').map((f) => f.name),
    [],
  );
  assert.deepEqual(
    selectFilters(fs, 'response', 'tools/call', 'x').map((f) => f.name),
    ['b'],
  );
  assert.deepEqual(
    selectFilters(fs, 'request', 'prompts/get', 'x').map((f) => f.name),
    ['c'],
  );
});
