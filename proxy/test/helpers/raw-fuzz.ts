/**
 * The raw-socket fuzz engine: pipelined MCP requests from an authorised caller, an ungranted one and no
 * one, written with the framing deviations of the differential tests (`framing-cases.ts`) and cut into
 * random pieces, sent to a proxy in front of some upstream. What it compares is what three parties saw
 * of the same bytes: the client, the upstream and the audit. Properties, for every case:
 *
 * - the proxy closes the connection itself, in bounded time (a case ends with bytes no parser accepts
 *   as a request, after enough of them to end any body the case left open);
 * - llhttp reads what came back as complete, well-formed responses;
 * - nothing from the ungranted caller and no denied tool reaches the upstream; over HTTP, no client
 *   token and no call whose metadata headers disagree with its body either, and whatever reaches it is
 *   one JSON object no parser reads differently;
 * - every message the upstream was given on the client's behalf was answered to the client with the
 *   upstream's answer, once: nothing is done upstream while the client is told something else;
 * - the audit has one event for each, with the status the client got, and claims no other answered
 *   request;
 * - for upstreams behind sessions (stdio, HTTP+SSE): nothing another granted caller sends in the live
 *   session reaches the upstream, and the session ends only when its owner was told so, or when its
 *   server's channel ended under a call (a fault the target injects);
 * - with faults (a server that exits, stalls, answers late or writes noise), each call the server was
 *   given still gets exactly one answer, the one its fault calls for, and the audit records the same;
 *   a call that timed out is cancelled toward the server, under the id the server knows it by.
 *
 * The upstream-specific parts (what the upstream recorded, how a session is kept) come from a
 * `FuzzTarget`; the test files pick the upstream.
 *
 * @module
 */
import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, request } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AuditRecord } from '../../src/audit/audit-event.ts';
import { checkJsonStructure } from '../../src/server/json-structure.ts';
import type { Upstream } from '../../src/upstream/upstream.ts';
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
} from './framing-cases.ts';
import { type Harness, startHarness } from './harness.ts';
import { LEGACY, legacyInitialize } from './legacy-initialize.ts';
import { MODERN } from './modern-client.ts';
import { prng } from './prng.ts';
import { parseResponsesWithLlhttp } from './response-framing-parsers.ts';

/** The policy the proxy under test has beside the grant: calls to `secret*` tools are denied. */
const FUZZ_POLICY = { rules: [{ id: 'no-secrets', effect: 'DENY' as const, targets: ['secret*'] }] };
/** The largest request body the proxy under test accepts (its `maxBodyBytes`). */
const RAW_FUZZ_MAX_BODY = 8 * 1024;
/**
 * Ends every case: longer than any body a case leaves open, then a line no parser takes for a request
 * line, so that the proxy refuses it and closes the connection.
 */
const TERMINATOR = `${'Z'.repeat(2 * 1024)}\r\n\r\n`;
/** How long a case may take before it counts as a hang, besides its calls' faults (`FuzzTarget.faultMs`). */
const HANG_MS = 5_000;
/** Where a notification carries the request key (`c<case>r<request>`), since it has no id. */
const NOTIFICATION_KEY = 'fuzz/key';

/** One message the upstream received. */
export interface Carried {
  /** The HTTP method it came with (`POST` for a message on a channel). */
  method: string;
  /** The headers it came with, for an HTTP upstream. */
  headers?: IncomingHttpHeaders;
  /** The message, as the upstream received it. */
  body: string;
  /** Whether the client must have been told of it: false for what the proxy sends on its own account
   * (a warm channel's `initialize`, keep-alive pings, cancellations). */
  byClient: boolean;
  /** The status the client gets for it. */
  status: number;
  /** A string unique to this call in the upstream's answer ('' when the answer has no body). */
  marker: string;
  /** The trace id of the `traceparent` the upstream received, where the transport carries one. */
  traceId?: string;
  /** The client's JSON-RPC id as the audit records it (JSON text), for a request. */
  requestId?: string;
  /** Which of the upstream's channels it came on (a child's pid), where there are several. */
  channel?: string;
  /** Whether its channel ended under it: the server was made to exit or to break its framing. */
  endsChannel?: boolean;
  /** A request's id as the server received it (JSON text), where the proxy may have rewritten it. */
  serverId?: string;
  /** For a `notifications/cancelled`: the id of the request it cancels, as the server knows it. */
  cancels?: string;
}

export interface FuzzTarget {
  /** The proxy, from `startFuzzProxy`. */
  h: Harness;
  /** Every message the upstream has received so far, oldest first. */
  carried(): Carried[];
  /**
   * Whether the proxy holds legacy (2025-11-25) sessions itself (stdio, HTTP+SSE upstreams): then
   * legacy requests mostly carry a live session of the authorised caller's, which the engine opens and
   * opens again whenever a case's DELETE ended it.
   */
  sessions?: boolean;
  /**
   * Faults the upstream's server commits when a call asks (`arguments.fault`); without them, no call
   * asks. A call asks for one with probability 1/2. `progress` also gives the call a progress token.
   */
  faults?: readonly string[];
  /** How long one faulted call may hold up its case (the request timeout): a case may take that per request. */
  faultMs?: number;
}

/** The request key a message carries: a call's argument, or a notification's `_meta` entry. */
function keyOf(message: unknown): string | undefined {
  const params = (message as { params?: Record<string, unknown> } | null)?.params;
  const key =
    (params?.arguments as { message?: unknown } | undefined)?.message ??
    (params?._meta as Record<string, unknown> | undefined)?.[NOTIFICATION_KEY];
  return typeof key === 'string' ? key : undefined;
}

/**
 * What a message a channel upstream (stdio, HTTP+SSE) received counts for: the client's if it carries a
 * request key, the proxy's own otherwise. `marker` is what the server's answer to a call contains.
 */
export function carriedOverChannel(
  message: { id?: unknown; method?: unknown; params?: unknown },
  body: string,
  marker: string,
): Carried {
  const key = keyOf(message);
  const cancelled = (message.params as { requestId?: unknown } | undefined)?.requestId;
  return {
    method: 'POST',
    body,
    byClient: key !== undefined,
    status: message.id === undefined ? 202 : 200,
    marker: key === undefined ? '' : marker,
    ...(key !== undefined && message.id !== undefined && { requestId: JSON.stringify(key) }),
    ...(message.method !== undefined && message.id !== undefined && { serverId: JSON.stringify(message.id) }),
    ...(message.method === 'notifications/cancelled' && { cancels: JSON.stringify(cancelled) }),
  };
}

/** A proxy under fuzz, and the error lines its upstream logged. */
export interface FuzzProxy {
  h: Harness;
  errors: string[];
}

/**
 * A run's seed and size: `RAW_FUZZ_SEED` and `RAW_FUZZ_CASES` when set (to replay or extend a run),
 * else the test file's own seed and 600 cases.
 */
export function fuzzRun(defaultSeed: number): { seed: number; cases: number } {
  return {
    seed: Number(process.env.RAW_FUZZ_SEED ?? defaultSeed),
    cases: Number(process.env.RAW_FUZZ_CASES ?? 600),
  };
}

/** The proxy under test, with the fuzz policy and body limit. */
export async function startFuzzProxy(
  upstream: (log: (level: string, msg: string, fields?: Record<string, unknown>) => void) => Upstream,
): Promise<FuzzProxy> {
  const errors: string[] = [];
  const h = await startHarness({
    upstream: upstream((level, msg, fields) => {
      if (level === 'error') errors.push(`${msg} ${JSON.stringify(fields)}`);
    }),
    maxBodyBytes: RAW_FUZZ_MAX_BODY,
    policy: FUZZ_POLICY,
  });
  return { h, errors };
}

/** One request as a well-behaved client would send it, before the generator bends it. */
interface RequestSpec {
  method: string;
  fields: [string, string][];
  data: string;
}

interface Tokens {
  /** Granted; the live session is hers. */
  alice: string;
  /** Granted too, but another principal: alice's session must be unknown to him. */
  bob: string;
  /** Not granted. */
  eve: string;
}

/** Marks what bob sends in the session era: with sessions it must never reach the upstream, as he has none. */
const FOREIGN = 'foreign-session';

/** A trace id that names the case and the request. */
const traceIdOf = (c: number, j: number) => (c * 4 + j + 1).toString(16).padStart(32, '0');

/**
 * The field naming a session: none, one the proxy never issued, or (with weight `live`) the live one;
 * without sessions, none or a made-up one.
 */
function sessionField(d: Draw, session: string | undefined, live: number): [string, string][] {
  if (session === undefined) return d.chance(0.5) ? [] : [['Mcp-Session-Id', 'unknown-session']];
  const pick = d.int(live + 2);
  if (pick === 0) return [];
  if (pick === 1) return [['Mcp-Session-Id', 'unknown-session']];
  return [['Mcp-Session-Id', session]];
}

/** The fault a call asks its server for, if any, as arguments and `_meta` to merge into the call. */
function faultOf(d: Draw, faults: readonly string[] | undefined, id: string) {
  // Drawn only when the target has faults, so that the runs without them replay as before.
  const fault = faults && d.chance(1 / 2) ? d.pick(faults) : undefined;
  return {
    args: fault === undefined ? {} : { fault },
    meta: fault === 'progress' ? { progressToken: id } : undefined,
  };
}

/** The requests a case draws from: who sends what. */
function spec(
  d: Draw,
  tokens: Tokens,
  target: { session: string | undefined; faults?: readonly string[] },
  c: number,
  j: number,
): RequestSpec {
  const { session } = target;
  const id = `c${c}r${j}`;
  const who = d.pick(['alice', 'alice', 'alice', 'alice', 'bob', 'eve', 'nobody'] as const);
  const foreign = who === 'bob' ? { via: FOREIGN } : {};
  const fault = faultOf(d, target.faults, id);
  const fields: [string, string][] = [
    ['Host', 'h.example'],
    ['Accept', 'application/json, text/event-stream'],
    ['traceparent', `00-${traceIdOf(c, j)}-${'1'.repeat(16)}-01`],
  ];
  if (who !== 'nobody') fields.push(['Authorization', `Bearer ${tokens[who]}`]);
  const tool = who === 'eve' ? 'from-eve' : d.pick(['echo', 'echo', 'secret-sauce']);
  const call = {
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      name: tool,
      arguments: { message: id, ...fault.args },
      ...(fault.meta && { _meta: fault.meta }),
    },
  };
  // A GET or DELETE has no use for a body, but a client may send one.
  const stray = d.pick(['', '', '{}', '{"jsonrpc":"2.0","method":"tools/call","params":{"name":"secret"}}']);
  switch (d.int(6)) {
    case 0:
      // Without a session id it goes upstream (or, with sessions, gets 400); with one the proxy never
      // issued, 404; with the live one, the session ends.
      return { method: 'DELETE', fields: [...fields, ...sessionField(d, session, 2)], data: stray };
    case 1:
      // Never with the live session: its answer is a stream that lasts as long as the session, and the
      // bytes pipelined after it wait for its end (`http1-server.test.ts`).
      return {
        method: 'GET',
        fields: session ? [...fields, ...sessionField(d, session, 0)] : fields,
        data: stray,
      };
    case 2: {
      const message = {
        jsonrpc: '2.0',
        method: 'notifications/initialized',
        ...(session !== undefined && { params: { _meta: { [NOTIFICATION_KEY]: id, ...foreign } } }),
      };
      return {
        method: 'POST',
        fields: [
          ...fields,
          ['Content-Type', 'application/json'],
          ...(session !== undefined ? sessionField(d, session, 4) : []),
        ],
        data: JSON.stringify(message),
      };
    }
    case 3: {
      // The stateless revision: the metadata headers must agree with the body.
      const meta = {
        'io.modelcontextprotocol/protocolVersion': MODERN,
        'io.modelcontextprotocol/clientCapabilities': {},
        'io.modelcontextprotocol/clientInfo': { name: 'fuzz', version: '1' },
      };
      const data = JSON.stringify({ ...call, params: { ...call.params, _meta: { ...meta, ...fault.meta } } });
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
        fields: [
          ...fields,
          ['Content-Type', 'application/json'],
          ['MCP-Protocol-Version', LEGACY],
          ...(session !== undefined ? sessionField(d, session, 4) : []),
        ],
        data: JSON.stringify({
          ...call,
          params: { ...call.params, arguments: { ...call.params.arguments, ...foreign } },
        }),
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
function bent(wild: Draw, tokens: Tokens, s: RequestSpec): string {
  const d = wild.chance(0.5) ? wild : tamed(wild);
  const odd = (p: number) => d.chance(p);
  const eol = () => (odd(0.015) ? d.pick(EOLS) : '\r\n');
  // A GET in a live session opens its stream, which outlasts the case (see `spec`).
  const live = s.fields.some(([name, value]) => name === 'Mcp-Session-Id' && value !== 'unknown-session');
  const method = odd(0.06) ? d.pick(live ? METHODS.filter((m) => m !== 'GET') : METHODS) : s.method;
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
          ? `Bearer ${d.pick([tokens.alice, tokens.bob, tokens.eve])}`
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
function exchange(h: Harness, d: Draw, bytes: Buffer, abandon: boolean, hangMs: number): Promise<Exchange> {
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
      reject(new Error(`the proxy did not close the connection within ${hangMs} ms`));
    }, hangMs);
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
async function settle(h: Harness, abandoned: boolean): Promise<void> {
  await sleep(5);
  if (!abandoned) return;
  while ((await new Promise<number>((r) => h.server.getConnections((_err, n) => r(n)))) > 0) await sleep(5);
  await sleep(20);
}

/** The trace id of the engine's own requests (opening and probing sessions), left out of the audit checks. */
const OWN_TRACE = 'f'.repeat(32);

/**
 * A legacy POST of the engine's own, outside any case, on a connection of its own that the proxy closes
 * after answering: a pooled one would still be open when an abandoned case waits for the proxy to have
 * no connection left.
 */
function ownPost(
  h: Harness,
  token: string,
  message: unknown,
  session?: string,
): Promise<{ status: number; session: string | undefined }> {
  const { port } = h.server.address() as AddressInfo;
  const body = JSON.stringify(message);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        agent: false,
        headers: {
          connection: 'close',
          authorization: `Bearer ${token}`,
          accept: 'application/json, text/event-stream',
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'mcp-protocol-version': LEGACY,
          traceparent: `00-${OWN_TRACE}-${'2'.repeat(16)}-01`,
          ...(session !== undefined && { 'mcp-session-id': session }),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const id = res.headers['mcp-session-id'];
          resolve({ status: res.statusCode ?? 0, session: typeof id === 'string' ? id : undefined });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The id of the `initialize` that opens the live session. */
const SESSION_INIT = 'fuzz-init';

/** Opens a legacy session for the authorised caller, as an SDK client would. */
async function openSession(h: Harness, token: string): Promise<string> {
  const init = await ownPost(h, token, legacyInitialize(SESSION_INIT));
  const id = init.session;
  assert.ok(init.status === 200 && id, `the fuzz test could not open a session (${init.status})`);
  const ready = await ownPost(h, token, { jsonrpc: '2.0', method: 'notifications/initialized' }, id);
  assert.equal(ready.status, 202);
  return id;
}

/** The channel the live session's `initialize` came on, which is the session's, where the target tells. */
function channelOfSession(target: FuzzTarget): string | undefined {
  return target.carried().findLast((k) => k.body.includes(`"${SESSION_INIT}"`))?.channel;
}

/** Whether the session still answers a ping. */
async function isLive(h: Harness, token: string, session: string): Promise<boolean> {
  const res = await ownPost(h, token, { jsonrpc: '2.0', id: 'fuzz-ping', method: 'ping' }, session);
  assert.ok(res.status === 200 || res.status === 404, `a ping in the session got ${res.status}`);
  return res.status === 200;
}

/** The checks that hold for every case, abandoned or not, on what the upstream received. */
function assertNothingForbiddenCarried(c: number, calls: Carried[], sessions: boolean): void {
  for (const call of calls) {
    assert.ok(!call.body.includes('from-eve'), `case ${c}: the ungranted caller's call reached the upstream`);
    if (sessions)
      assert.ok(
        !call.body.includes(FOREIGN),
        `case ${c}: a message reached the upstream in another's session`,
      );
    if (call.method !== 'POST') continue;
    assert.equal(checkJsonStructure(call.body, 64), undefined, `case ${c}: forwarded ${call.body}`);
    const message = JSON.parse(call.body) as { method?: string; params?: { name?: string } };
    assert.ok(!message.params?.name?.startsWith('secret'), `case ${c}: a denied tool reached the upstream`);
    if (!call.headers) continue;
    assert.equal(call.headers.authorization, undefined, `case ${c}: the client's token reached the upstream`);
    const headerMethod = call.headers['mcp-method'];
    if (headerMethod !== undefined) assert.equal(headerMethod, message.method, `case ${c}: Mcp-Method`);
    const headerName = call.headers['mcp-name'];
    if (headerName !== undefined) assert.equal(headerName, message.params?.name, `case ${c}: Mcp-Name`);
  }
}

/**
 * The checks of a case the client saw through: what it read, what the upstream was given on its behalf
 * (`calls`) and what the audit recorded agree. Returns the statuses the client read.
 */
function assertAgreement(
  replay: string,
  received: Buffer,
  calls: Carried[],
  events: AuditRecord[],
): number[] {
  const parsed = parseResponsesWithLlhttp(received);
  assert.equal(parsed.error, undefined, `${replay}\nllhttp could not read the answers: ${parsed.error}`);

  // Every call carried out upstream was answered to the client with the upstream's own answer, once.
  for (const call of calls) {
    const answers = call.marker
      ? parsed.responses.filter((r) => r.body.includes(`"${call.marker}"`))
      : parsed.responses.filter((r) => r.status === call.status);
    assert.ok(
      answers.length >= 1,
      `${replay}\nthe answer ${call.marker || call.status} never reached the client`,
    );
    if (call.marker) assert.equal(answers.length, 1, `${replay}\n${call.marker} answered twice`);
    assert.equal(answers[0]!.status, call.status, `${replay}\nthe client was told another status`);
  }
  for (const status of [202, 204]) {
    const told = parsed.responses.filter((r) => r.status === status).length;
    const done = calls.filter((call) => call.status === status).length;
    assert.equal(told, done, `${replay}\n${status} answers for ${done} messages the upstream was given`);
  }

  // The audit has one event per call carried out, with its status, and no other answered call.
  const matched = new Set<string>();
  for (const call of calls) {
    if (call.traceId === undefined && call.requestId === undefined) continue;
    const mine = events.filter((e) =>
      call.traceId !== undefined ? e.traceId === call.traceId : e.requestId === call.requestId,
    );
    assert.equal(
      mine.length,
      1,
      `${replay}\naudit events for ${call.traceId ?? call.requestId}: ${mine.length}`,
    );
    assert.equal(mine[0]!.httpStatus, call.status, `${replay}\nthe audit recorded another status`);
    matched.add(mine[0]!.eventId);
  }
  // Messages without an id to match (notifications, a session's end, over channels): counted by status.
  for (const status of [202, 204]) {
    const unmatched = calls.filter(
      (k) => k.status === status && k.traceId === undefined && k.requestId === undefined,
    );
    const recorded = events.filter((e) => e.httpStatus === status && !matched.has(e.eventId));
    assert.equal(recorded.length, unmatched.length, `${replay}\naudit events with ${status}`);
  }
  // Only the session's owner ends it.
  for (const e of events.filter((e) => e.httpStatus === 204))
    assert.equal(e.user, 'alice@example.com', `${replay}\na session ended by ${e.user}`);
  const claimed = events.filter((e) => e.outcome === 'ok');
  assert.ok(claimed.length <= calls.length, `${replay}\nthe audit claims answers the upstream never gave`);
  return parsed.responses.map((r) => r.status);
}

/** What a run saw, for the test to judge its spread. */
export interface FuzzSummary {
  /** Messages the upstream received on a client's behalf. */
  forwarded: number;
  abandoned: number;
  /** Sessions that ended (by a client's DELETE, or with their server) and were opened again. */
  sessionsEnded: number;
  /** Of those, the sessions that ended because their server went down under a call. */
  sessionsLost: number;
  /** Whether calls asked the server for faults. */
  faults: boolean;
  /** How many responses of each status the clients read. */
  statuses: Map<number, number>;
}

/**
 * Checks that a run was not vacuous: at least `minShare` of the cases reached the upstream, some were
 * abandoned, the answers were of several kinds, with sessions some ended, and with faults, calls failed
 * with an exit (`502`) and with silence (`504`) and some sessions ended with their server's channel.
 */
export function assertSpread(run: FuzzSummary, cases: number, minShare: number, sessions = false): void {
  const reached = `enough requests survived the bending to reach the upstream (${run.forwarded})`;
  assert.ok(run.forwarded > cases * minShare, reached);
  assert.ok(run.abandoned > 0, 'some cases were abandoned');
  assert.ok(run.statuses.size > 4, `answers of several kinds (${JSON.stringify([...run.statuses])})`);
  if (sessions)
    assert.ok(run.sessionsEnded > run.sessionsLost, 'some cases ended their session with a DELETE');
  if (!run.faults) return;
  for (const status of [502, 504]) assert.ok(run.statuses.has(status), `some calls were answered ${status}`);
  assert.ok(run.sessionsLost > 0, 'some sessions ended with their channel');
}

/** Runs `cases` cases from `seed` against `target`; throws (with the case to replay) on the first failure. */
export async function runRawFuzz(target: FuzzTarget, seed: number, cases: number): Promise<FuzzSummary> {
  const { h } = target;
  const tokens = {
    alice: await h.token(),
    bob: await h.token({ sub: 'user-2', email: 'bob@example.com', groups: ['eng'] }),
    eve: await h.token({ email: 'eve@example.com', groups: ['sales'] }),
  };
  let session = target.sessions ? await openSession(h, tokens.alice) : undefined;
  let sessionChannel = channelOfSession(target);
  const d = draw(prng(seed));
  const summary: FuzzSummary = {
    forwarded: 0,
    abandoned: 0,
    sessionsEnded: 0,
    sessionsLost: 0,
    faults: target.faults !== undefined,
    statuses: new Map(),
  };
  const timedOut: Carried[] = [];
  for (let c = 0; c < cases; c++) {
    const count = 1 + d.int(3);
    let text = '';
    for (let j = 0; j < count; j++)
      text += bent(d, tokens, spec(d, tokens, { session, faults: target.faults }, c, j));
    const abandon = d.chance(0.1);
    const carriedBefore = target.carried().length;
    const auditBefore = h.audit.length;
    const { received, clientLeft } = await exchange(
      h,
      d,
      Buffer.from(text + TERMINATOR, 'latin1'),
      abandon,
      HANG_MS + count * (target.faultMs ?? 0),
    ).catch((err: Error) => {
      throw new Error(`seed ${seed}, case ${c}: ${err.message}\n${JSON.stringify(text)}`);
    });
    await settle(h, clientLeft);
    const all = target.carried().slice(carriedBefore);
    const events = h.audit.slice(auditBefore).filter((e) => e.traceId !== OWN_TRACE);
    const calls = all.filter((k) => k.byClient);
    const replay = `seed ${seed}, case ${c}: ${JSON.stringify(text)}\nreceived: ${JSON.stringify(received.toString('latin1'))}\nupstream: ${JSON.stringify(all.map((k) => [k.method, k.marker, k.body]))}`;
    // A session whose server went down under a call ends with it; otherwise only its owner's DELETE ends it.
    const lost = calls.some((k) => k.endsChannel && k.channel === sessionChannel);
    const ended = session !== undefined && !(await isLive(h, tokens.alice, session));
    assert.ok(ended || !lost, `${replay}\nthe session outlived its server`);
    if (ended) {
      session = await openSession(h, tokens.alice);
      sessionChannel = channelOfSession(target);
      summary.sessionsEnded++;
      if (lost) summary.sessionsLost++;
      // Ending a session is the proxy's own doing toward the upstream, answered with 204.
      else calls.push({ method: 'DELETE', body: '', byClient: true, status: 204, marker: '' });
    }
    summary.forwarded += calls.length;
    assertNothingForbiddenCarried(c, all, session !== undefined);
    if (clientLeft) {
      summary.abandoned++;
      continue;
    }

    for (const status of assertAgreement(replay, received, calls, events))
      summary.statuses.set(status, (summary.statuses.get(status) ?? 0) + 1);
    timedOut.push(...calls.filter((k) => k.status === 504));
  }
  // Checked at the end, when every cancellation has had time to arrive.
  const cancelled = new Set(target.carried().map((k) => `${k.channel}/${k.cancels}`));
  for (const call of timedOut) {
    const what = `seed ${seed}: the call ${call.requestId}, timed out, as ${call.serverId} on ${call.channel}`;
    assert.ok(cancelled.has(`${call.channel}/${call.serverId}`), `${what} was never cancelled`);
  }
  assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
  return summary;
}
