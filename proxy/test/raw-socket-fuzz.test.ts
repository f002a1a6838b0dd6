/**
 * Fuzzing the proxy at the socket: pipelined MCP requests from an authorised caller, an ungranted one
 * and no one, written with the framing deviations of the differential tests (`helpers/framing-cases.ts`)
 * and cut into random pieces. The other fuzz test goes through `fetch`, which frames every request
 * correctly; this one looks at what three parties saw of the same bytes: the client, the upstream and
 * the audit. Properties, for every case:
 *
 * - the proxy closes the connection itself, in bounded time (a case ends with bytes no parser accepts
 *   as a request, after enough of them to end any body the case left open);
 * - llhttp reads what came back as complete, well-formed responses;
 * - nothing from the ungranted caller, no denied tool, and no call whose metadata headers disagree with
 *   its body reaches the upstream, and whatever reaches it is one JSON object no parser reads differently;
 * - every request the upstream carried out was answered to the client with the upstream's answer, once:
 *   nothing is done upstream while the client is told something else (the GET/DELETE bug this test's
 *   first run found, see `get-delete-bodies.test.ts`);
 * - the audit has one event for each, with the upstream's status, and claims no other answered request.
 *
 * Seeded: RAW_FUZZ_SEED=<n> RAW_FUZZ_CASES=<n> node --test proxy/test/raw-socket-fuzz.test.ts
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { checkJsonStructure } from '../src/server/json-structure.ts';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import {
  type Draw,
  draw,
  EOLS,
  fieldLine,
  framed,
  METHODS,
  shuffled,
  TARGETS,
  VERSIONS,
} from './helpers/framing-cases.ts';
import { type Harness, startHarness } from './helpers/harness.ts';
import { LEGACY } from './helpers/legacy-initialize.ts';
import { MODERN } from './helpers/modern-client.ts';
import { prng } from './helpers/prng.ts';
import { parseResponsesWithLlhttp } from './helpers/response-framing-parsers.ts';

const SEED = Number(process.env.RAW_FUZZ_SEED ?? 20261125);
const CASES = Number(process.env.RAW_FUZZ_CASES ?? 600);
const MAX_BODY = 8 * 1024;
/**
 * Ends every case: longer than any body a case leaves open, then a line no parser takes for a request
 * line, so that the proxy refuses it and closes the connection.
 */
const TERMINATOR = `${'Z'.repeat(2 * 1024)}\r\n\r\n`;
/** How long a case may take before it counts as a hang. */
const HANG_MS = 5_000;

/** What the upstream received and answered. */
interface Carried {
  method: string;
  headers: IncomingMessage['headers'];
  body: string;
  status: number;
  /** The marker in the upstream's answer ('' when it had no body). */
  marker: string;
  /** The trace id of the `traceparent` the proxy sent. */
  traceId: string;
}

let upstream: Server;
const carried: Carried[] = [];
let h: Harness;
let tokens: { alice: string; eve: string };

before(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const marker = `m${carried.length}`;
      const traceId = String(req.headers.traceparent ?? '').split('-')[1] ?? '';
      const record: Carried = {
        method: req.method ?? '',
        headers: req.headers,
        body,
        status: 200,
        marker,
        traceId,
      };
      carried.push(record);
      let id: unknown;
      try {
        id = (JSON.parse(body) as { id?: unknown }).id;
      } catch {}
      if (req.method === 'POST' && id === undefined) {
        // A notification or a response: accepted, nothing to say.
        record.status = 202;
        record.marker = '';
        res.writeHead(202).end();
        return;
      }
      if (req.method === 'GET') record.status = 405;
      const answer = req.method === 'POST' ? { jsonrpc: '2.0', id, result: { marker } } : { marker };
      res.writeHead(record.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const url = new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`);
  h = await startHarness({
    upstream: createHttpUpstream({ url, log: () => {} }),
    maxBodyBytes: MAX_BODY,
    policy: { rules: [{ id: 'no-secrets', effect: 'DENY', targets: ['secret*'] }] },
  });
  tokens = { alice: await h.token(), eve: await h.token({ email: 'eve@example.com', groups: ['sales'] }) };
});

after(async () => {
  await h?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

/** One request as a well-behaved client would send it, before the generator bends it. */
interface RequestSpec {
  method: string;
  fields: [string, string][];
  data: string;
}

/** A trace id that names the case and the request, so the audit can be matched with the upstream. */
const traceIdOf = (c: number, j: number) => (c * 4 + j + 1).toString(16).padStart(32, '0');

/** The requests a case draws from: who sends what. */
function spec(d: Draw, c: number, j: number): RequestSpec {
  const id = `c${c}r${j}`;
  const who = d.pick(['alice', 'alice', 'alice', 'alice', 'eve', 'nobody'] as const);
  const fields: [string, string][] = [
    ['Host', 'h.example'],
    ['Accept', 'application/json, text/event-stream'],
    ['traceparent', `00-${traceIdOf(c, j)}-${'1'.repeat(16)}-01`],
  ];
  if (who !== 'nobody') fields.push(['Authorization', `Bearer ${tokens[who]}`]);
  const tool = who === 'eve' ? 'from-eve' : d.pick(['echo', 'echo', 'secret-sauce']);
  const call = { jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: { text: id } } };
  // A GET or DELETE has no use for a body, but a client may send one.
  const stray = d.pick(['', '', '{}', '{"jsonrpc":"2.0","method":"tools/call","params":{"name":"secret"}}']);
  switch (d.int(6)) {
    case 0:
      // Without a session id it goes upstream; with one the proxy never issued, it gets 404.
      return {
        method: 'DELETE',
        fields: d.chance(0.5) ? fields : [...fields, ['Mcp-Session-Id', 's-1']],
        data: stray,
      };
    case 1:
      return { method: 'GET', fields, data: stray };
    case 2: {
      const data = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });
      return { method: 'POST', fields: [...fields, ['Content-Type', 'application/json']], data };
    }
    case 3: {
      // The stateless revision: the metadata headers must agree with the body.
      const meta = {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientCapabilities': {},
        'io.modelcontextprotocol/clientInfo': { name: 'fuzz', version: '1' },
      };
      const data = JSON.stringify({ ...call, params: { ...call.params, _meta: meta } });
      const name = d.chance(0.8) ? tool : d.pick(['echo', 'secret-sauce', 'from-eve']);
      return {
        method: 'POST',
        fields: [
          ...fields,
          ['Content-Type', 'application/json'],
          ['MCP-Protocol-Version', MODERN],
          ['Mcp-Method', d.chance(0.9) ? 'tools/call' : 'tools/list'],
          ['Mcp-Name', name],
        ],
        data,
      };
    }
    default:
      return {
        method: 'POST',
        fields: [...fields, ['Content-Type', 'application/json'], ['MCP-Protocol-Version', LEGACY]],
        data: JSON.stringify(call),
      };
  }
}

/**
 * The same draws, but every `chance` takes its likelier branch: the generator's field lines and chunks
 * come out well formed, while lengths, splits and picks stay random.
 */
function tamed(d: Draw): Draw {
  return { ...d, chance: (p: number) => p >= 0.5 };
}

/** The request as sent: most well formed, the rest with start line, fields or framing bent. */
function bent(wild: Draw, s: RequestSpec): string {
  const d = wild.chance(0.5) ? wild : tamed(wild);
  const odd = (p: number) => d.chance(p);
  const eol = () => (odd(0.015) ? d.pick(EOLS) : '\r\n');
  const method = odd(0.06) ? d.pick(METHODS) : s.method;
  const target = odd(0.06) ? d.pick([...TARGETS, '/mcp?x=1', 'http://h.example/mcp']) : '/mcp';
  const version = odd(0.05) ? d.pick(VERSIONS) : odd(0.1) ? 'HTTP/1.0' : 'HTTP/1.1';
  const lines: string[] = [];
  for (const [name, value] of s.fields) {
    if (odd(0.04)) continue;
    lines.push(fieldLine(d, name, value, eol));
    // A field twice: the same value, or another caller's token, or another tool.
    if (odd(0.05)) {
      const other =
        name === 'Authorization'
          ? `Bearer ${d.pick([tokens.alice, tokens.eve])}`
          : d.pick([value, 'secret-sauce']);
      lines.push(fieldLine(d, name, other, eol));
    }
  }
  const framing =
    s.method === 'POST'
      ? d.pick(['length', 'length', 'length', 'chunked', 'chunked', 'both', 'none'] as const)
      : d.pick(['none', 'none', 'none', 'length', 'chunked'] as const);
  const body = framed(d, odd, eol, lines, framing, s.data);
  return `${method} ${target} ${version}${eol()}${shuffled(d, lines).join('')}${eol()}${body}`;
}

interface Exchange {
  /** What the client read until the proxy closed the connection. */
  received: Buffer;
  /** Whether the client left first (the abandoned cases). */
  clientLeft: boolean;
}

/**
 * Writes `bytes` in random pieces over one connection and reads until the proxy closes it; in an
 * abandoned case the client closes it after a random prefix instead.
 */
function exchange(d: Draw, bytes: Buffer, abandon: boolean): Promise<Exchange> {
  const { port } = h.server.address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  const received: Buffer[] = [];
  socket.on('data', (b: Buffer) => received.push(b));
  socket.on('error', () => {});
  const cuts = Array.from({ length: d.int(4) }, () => d.int(bytes.length)).sort((a, b) => a - b);
  const stopAt = abandon ? d.int(bytes.length) : bytes.length;
  return new Promise<Exchange>((resolve, reject) => {
    const hang = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the proxy did not close the connection within ${HANG_MS} ms`));
    }, HANG_MS);
    socket.once('close', () => {
      clearTimeout(hang);
      resolve({ received: Buffer.concat(received), clientLeft: abandon });
    });
    let at = 0;
    const writeNext = () => {
      if (socket.destroyed) return;
      const end = Math.min(cuts.shift() ?? stopAt, stopAt);
      if (end > at) socket.write(bytes.subarray(at, end));
      at = Math.max(at, end);
      if (at < stopAt) setTimeout(writeNext, d.int(3));
      else if (abandon) setTimeout(() => socket.destroy(), d.int(5));
    };
    socket.once('connect', writeNext);
  });
}

/**
 * Lets an answer's audit event land before the case is judged. After an abandoned case, waits until
 * the proxy has let go of the connection and a call it had already sent has reached the upstream, so
 * that no call is counted against the next case.
 */
async function settle(abandoned: boolean): Promise<void> {
  await sleep(5);
  if (!abandoned) return;
  while ((await new Promise<number>((r) => h.server.getConnections((_err, n) => r(n)))) > 0) await sleep(5);
  await sleep(20);
}

/** The checks that hold for every case, abandoned or not, on what the upstream received. */
function assertNothingForbiddenCarried(c: number, calls: Carried[]): void {
  for (const call of calls) {
    assert.ok(!call.body.includes('from-eve'), `case ${c}: the ungranted caller's call reached the upstream`);
    assert.equal(call.headers.authorization, undefined, `case ${c}: the client's token reached the upstream`);
    if (call.method !== 'POST') continue;
    assert.equal(checkJsonStructure(call.body, 64), undefined, `case ${c}: forwarded ${call.body}`);
    const message = JSON.parse(call.body) as { method?: string; params?: { name?: string } };
    assert.ok(!message.params?.name?.startsWith('secret'), `case ${c}: a denied tool reached the upstream`);
    const headerMethod = call.headers['mcp-method'];
    if (headerMethod !== undefined) assert.equal(headerMethod, message.method, `case ${c}: Mcp-Method`);
    const headerName = call.headers['mcp-name'];
    if (headerName !== undefined) assert.equal(headerName, message.params?.name, `case ${c}: Mcp-Name`);
  }
}

test(`raw-socket fuzz (seed ${SEED}, ${CASES} cases): client, upstream and audit agree`, async () => {
  const d = draw(prng(SEED));
  const statuses = new Map<number, number>();
  let forwarded = 0;
  let abandoned = 0;
  for (let c = 0; c < CASES; c++) {
    const count = 1 + d.int(3);
    let text = '';
    for (let j = 0; j < count; j++) text += bent(d, spec(d, c, j));
    const abandon = d.chance(0.1);
    const carriedBefore = carried.length;
    const auditBefore = h.audit.length;
    const { received, clientLeft } = await exchange(d, Buffer.from(text + TERMINATOR, 'latin1'), abandon);
    await settle(clientLeft);
    const calls = carried.slice(carriedBefore);
    const events = h.audit.slice(auditBefore);
    forwarded += calls.length;
    const replay = `RAW_FUZZ_SEED=${SEED}, case ${c}: ${JSON.stringify(text)}\nreceived: ${JSON.stringify(received.toString('latin1'))}\nupstream: ${JSON.stringify(calls.map((k) => [k.method, k.marker, k.body]))}`;
    assertNothingForbiddenCarried(c, calls);
    if (clientLeft) {
      abandoned++;
      continue;
    }

    const parsed = parseResponsesWithLlhttp(received);
    assert.equal(parsed.error, undefined, `${replay}\nllhttp could not read the answers: ${parsed.error}`);
    for (const r of parsed.responses) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);

    // Every call carried out upstream was answered to the client with the upstream's own answer, once.
    for (const call of calls) {
      const answers = call.marker
        ? parsed.responses.filter((r) => r.body.includes(`"${call.marker}"`))
        : parsed.responses.filter((r) => r.status === 202);
      assert.ok(
        answers.length >= 1,
        `${replay}\nthe upstream's answer ${call.marker || '202'} never reached the client`,
      );
      if (call.marker) assert.equal(answers.length, 1, `${replay}\n${call.marker} answered twice`);
      assert.equal(answers[0]!.status, call.status, `${replay}\nthe client was told another status`);
    }
    const accepted = parsed.responses.filter((r) => r.status === 202).length;
    const acceptedUpstream = calls.filter((call) => call.status === 202).length;
    assert.equal(accepted, acceptedUpstream, `${replay}\n202 answers the upstream never gave`);

    // The audit has one event per call carried out, with its status, and no other answered call.
    for (const call of calls) {
      const mine = events.filter((e) => e.traceId === call.traceId);
      assert.equal(mine.length, 1, `${replay}\naudit events for trace ${call.traceId}: ${mine.length}`);
      assert.equal(mine[0]!.httpStatus, call.status, `${replay}\nthe audit recorded another status`);
    }
    const claimed = events.filter((e) => e.outcome === 'ok');
    assert.ok(claimed.length <= calls.length, `${replay}\nthe audit claims answers the upstream never gave`);
  }
  assert.ok(
    forwarded > CASES / 4,
    `enough requests survived the bending to reach the upstream (${forwarded})`,
  );
  assert.ok(abandoned > 0);
  assert.ok(statuses.size > 4, `answers of several kinds (${JSON.stringify([...statuses])})`);
  assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
});
