/**
 * The proxy's own per-request steps, each run alone in a loop on the benchmark's request and answer:
 * what they cost with warm caches and optimised code. The end-to-end benchmark measures the proxy
 * among other processes, where a request at 1000 req/s finds the proxy asleep and its caches cold;
 * these figures are the floor under that, and far steadier (a change to one step shows when runs are
 * made one after the other).
 *
 * `measureAfterPause` runs the same steps once per round, in order, after the thread has slept (or
 * spun) for a while, as the proxy does between requests at a fixed rate: what the same code costs
 * when it starts cold. Nothing else runs in the process meanwhile, so what it shows beyond the warm
 * figures is the machine's, not the proxy's.
 *
 * Not timed here: verifying a token (cached per token after the first request, a Map lookup), and the
 * system calls (reading the request, writing it upstream, the answer back, and the audit spool's
 * append), which `proxy.bench.ts` measures as part of the whole.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { AuditRecord } from '../../proxy/src/audit/audit-event.ts';
import { encodeAuditEvent } from '../../proxy/src/audit/audit-event-encoder.ts';
import { argumentsDigest } from '../../proxy/src/audit/body-capture.ts';
import { RequestParser } from '../../proxy/src/http1/request-parser.ts';
import { compilePolicy } from '../../proxy/src/policies/policy-engine.ts';
import { jsonText, parseJsonRpc } from '../../proxy/src/server/jsonrpc.ts';
import { checkFraming } from '../../proxy/src/server/wire-framing.ts';
import { createProxyMetrics, observeRequest } from '../../proxy/src/telemetry/metrics.ts';
import { continueTrace } from '../../proxy/src/telemetry/trace-context.ts';
import { ResponseParser } from '../../proxy/src/upstream/http1-response-parser.ts';
import { TOOL_NAME, toolsCallBody, toolsCallResult } from './payload.ts';
import { median } from './report.ts';

export interface Step {
  name: string;
  /** Where the proxy runs it. */
  where: string;
  run: () => unknown;
}

export interface StepResult {
  name: string;
  where: string;
  /** The median over the batches, nanoseconds per run. */
  ns: number;
  /** Each batch's nanoseconds per run. */
  batches_ns: number[];
}

const USER = 'bench@example.com';
const body = Buffer.from(toolsCallBody(1));
// The head the load generator (undici) sends through the proxy, with a token of a realistic size.
const token = `eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIn0.${'e'.repeat(300)}.${'s'.repeat(86)}`;
const requestBytes = Buffer.concat([
  Buffer.from(
    'POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:20000\r\nconnection: keep-alive\r\n' +
      'content-type: application/json\r\naccept: application/json, text/event-stream\r\n' +
      `authorization: Bearer ${token}\r\nmcp-protocol-version: 2025-11-25\r\n` +
      `content-length: ${body.length}\r\n\r\n`,
    'latin1',
  ),
  body,
]);
const result = Buffer.from(toolsCallResult('1'));
const responseBytes = Buffer.concat([
  Buffer.from(
    'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n' +
      `content-length: ${result.length}\r\ndate: Tue, 24 Nov 2026 12:00:00 GMT\r\n` +
      'connection: keep-alive\r\nkeep-alive: timeout=5\r\n\r\n',
    'latin1',
  ),
  result,
]);
const headers = {
  host: '127.0.0.1:20000',
  connection: 'keep-alive',
  'content-type': 'application/json',
  accept: 'application/json, text/event-stream',
  authorization: `Bearer ${token}`,
  'mcp-protocol-version': '2025-11-25',
  'content-length': String(body.length),
};
const message = parseJsonRpc(jsonText(body)).message;
const args = message.kind === 'request' ? message.params?.arguments : undefined;
// The benchmark's grant: the user may call everything.
const engine = compilePolicy({ grants: [{ users: [USER], groups: [] }], rules: [] });
const caller = { name: USER, subject: 'user-1', groups: [], clientId: 'bench', claims: {} };
const metrics = createProxyMetrics();
const ignore = () => {};
const record: AuditRecord = {
  eventId: randomUUID(),
  time: new Date(),
  user: USER,
  method: 'tools/call',
  target: TOOL_NAME,
  outcome: 'ok',
  httpStatus: 200,
  errorCode: 0,
  latencyUs: 800,
  requestBytes: body.length,
  responseBytes: result.length,
  sessionId: '',
  reason: '',
  requestId: '1',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  decision: 'allow',
  ruleId: `grant:user:${USER}`,
  filters: [],
  argumentsDigest: argumentsDigest(args),
  clientId: 'bench',
  groups: [],
  requestBody: '',
  responseBody: '',
  bodiesTruncated: false,
  era: '2025-11-25',
};

/** The steps of one proxied `tools/call`, in the order the proxy takes them. */
export const STEPS: readonly Step[] = [
  {
    name: 'parse the request (head and 1 KB body)',
    where: 'http1/request-parser.ts',
    run: () => new RequestParser({ head: ignore, body: ignore, end: ignore }, 65_536).feed(requestBytes),
  },
  {
    name: 'continue or start the trace',
    where: 'telemetry/trace-context.ts',
    run: () => continueTrace(headers),
  },
  { name: 'parse the JSON-RPC body', where: 'server/jsonrpc.ts', run: () => parseJsonRpc(jsonText(body)) },
  {
    name: 'check the framing headers',
    where: 'server/wire-framing.ts',
    run: () => checkFraming('POST', headers, message, undefined),
  },
  {
    name: 'decide with the policy engine',
    where: 'policies/policy-engine.ts',
    run: () => engine.decide(caller, 'tools/call', TOOL_NAME, args),
  },
  { name: 'digest the arguments', where: 'audit/body-capture.ts', run: () => argumentsDigest(args) },
  {
    name: 'parse the answer (head and 1 KB body)',
    where: 'upstream/http1-response-parser.ts',
    run: () => new ResponseParser({ head: ignore, body: ignore, end: ignore }).feed(responseBytes),
  },
  { name: 'event id', where: 'server/mcp-endpoint.ts', run: () => randomUUID() },
  {
    name: 'encode the audit event',
    where: 'audit/audit-event-encoder.ts',
    run: () => encodeAuditEvent(record, { proxyId: 'proxy-1', server: 'bench' }),
  },
  {
    name: 'count it in the metrics',
    where: 'telemetry/metrics.ts',
    run: () =>
      observeRequest(metrics, {
        method: 'tools/call',
        outcome: 'ok',
        httpStatus: 200,
        latencyUs: 800,
        decision: 'grant',
        upstreamError: undefined,
      }),
  },
];

/** Runs every step `warmup` times, then `batches` batches of `runs` runs, and keeps each batch's mean. */
export function measureSteps(
  steps: readonly Step[],
  { runs, batches, warmup }: { runs: number; batches: number; warmup: number },
): StepResult[] {
  let sink: unknown;
  return steps.map((step) => {
    for (let i = 0; i < warmup; i++) sink = step.run();
    const perBatch: number[] = [];
    for (let b = 0; b < batches; b++) {
      const start = process.hrtime.bigint();
      for (let i = 0; i < runs; i++) sink = step.run();
      perBatch.push(Math.round((Number(process.hrtime.bigint() - start) / runs) * 10) / 10);
    }
    if (sink === Symbol.for('never')) throw new Error('unreachable');
    return { name: step.name, where: step.where, ns: median(perBatch), batches_ns: perBatch };
  });
}

export interface Pause {
  /** How long the thread waits before each round, in milliseconds. */
  ms: number;
  /** `sleep`: blocked in the kernel (`Atomics.wait`, a futex), as an idle event loop is; `spin`: busy. */
  how: 'sleep' | 'spin';
}

export interface PauseResult extends Pause {
  rounds: number;
  /** The median over the rounds of one pass through every step, nanoseconds. */
  total_ns: number;
  /** Each step's median over the rounds, nanoseconds, in the order of the steps. */
  steps_ns: number[];
}

const pauseCell = new Int32Array(new SharedArrayBuffer(4));

function pause({ ms, how }: Pause): void {
  if (how === 'sleep') {
    // Nothing ever notifies the cell: the wait always runs to its timeout.
    Atomics.wait(pauseCell, 0, 0, ms);
    return;
  }
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/**
 * Runs every step once per round, in order, after `pause`; `rounds` rounds. Each step is timed on its
 * own; the cost of reading the clock, measured the same way, is taken off every figure.
 */
export function measureAfterPause(steps: readonly Step[], p: Pause, rounds: number): PauseResult {
  let sink: unknown;
  const perStep: number[][] = steps.map(() => []);
  const clock: number[] = [];
  const totals: number[] = [];
  for (let r = 0; r < rounds; r++) {
    pause(p);
    const start = process.hrtime.bigint();
    let before = start;
    for (let i = 0; i < steps.length; i++) {
      sink = steps[i]!.run();
      const after = process.hrtime.bigint();
      perStep[i]!.push(Number(after - before));
      before = after;
    }
    const end = process.hrtime.bigint();
    clock.push(Number(end - before));
    totals.push(Number(before - start));
  }
  if (sink === Symbol.for('never')) throw new Error('unreachable');
  const overhead = median(clock);
  const net = (ns: number) => Math.max(0, Math.round(ns - overhead));
  return {
    ...p,
    rounds,
    total_ns: Math.max(0, Math.round(median(totals) - overhead * steps.length)),
    steps_ns: perStep.map((xs) => net(median(xs))),
  };
}

/**
 * The README's tables: each step's median warm and after the `perStep` pause, with their sums; then
 * one pass through every step after each pause.
 */
export function stepsMarkdown(
  results: readonly StepResult[],
  pauses: readonly PauseResult[] = [],
  perStep?: PauseResult,
): string {
  const us = (ns: number) => (ns / 1000).toFixed(2);
  const total = results.reduce((sum, r) => sum + r.ns, 0);
  const label = (p: Pause) => `${p.how === 'sleep' ? 'asleep' : 'busy'} ${p.ms} ms`;
  const extra = perStep ? ` µs after ${label(perStep)} |` : '';
  const lines = [
    `| Step | Where (\`proxy/src/\`) | µs per request, warm |${extra}`,
    `| --- | --- | --- |${perStep ? ' --- |' : ''}`,
    ...results.map(
      (r, i) =>
        `| ${r.name} | \`${r.where}\` | ${us(r.ns)} |${perStep ? ` ${us(perStep.steps_ns[i]!)} |` : ''}`,
    ),
    `| **all of the above** | | **${us(total)}** |${perStep ? ` **${us(perStep.total_ns)}** |` : ''}`,
    '',
  ];
  if (pauses.length > 0) {
    lines.push(
      '| Before each pass through all the steps | µs per pass (median) | Times the warm sum |',
      '| --- | --- | --- |',
      `| nothing (warm, each step in its own loop) | ${us(total)} | 1.0 |`,
      ...pauses.map((p) => `| ${label(p)} | ${us(p.total_ns)} | ${(p.total_ns / total).toFixed(1)} |`),
      '',
    );
  }
  return lines.join('\n');
}
