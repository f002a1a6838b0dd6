/**
 * The raw-socket fuzz (`helpers/raw-fuzz.ts`) against a stdio upstream: here the proxy is the session's
 * server itself (legacy sessions, each with its own child; stateless requests on warm children it
 * initializes), so the fuzz also reaches the session registry, the principal binding of sessions, the
 * DELETE that ends one, and the id rewriting toward warm children. The children are
 * `stdio-recording-fixture.mjs`, which writes every message down before it answers.
 *
 * Two runs: one with well-behaved children, and one where calls make their child exit, break its
 * framing, stall, answer late or write noise first. A crashed child must fail its call with an error,
 * never silently, and end the session it served.
 *
 * Seeded: RAW_FUZZ_SEED=<n> RAW_FUZZ_CASES=<n> node --test proxy/test/raw-socket-fuzz-stdio.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createStdioUpstream, type StdioUpstreamOptions } from '../src/upstream/stdio-upstream.ts';
import {
  assertSpread,
  type Carried,
  carriedOverChannel,
  type FuzzProxy,
  fuzzRun,
  runRawFuzz,
  startFuzzProxy,
} from './helpers/raw-fuzz.ts';

const FIXTURE = fileURLToPath(new URL('./fixtures/stdio-recording-fixture.mjs', import.meta.url));

/** What the client must be told of a call whose child was asked for `fault`; other faults still answer. */
const FAULT_ANSWERS: Record<string, { status: number; endsChannel: boolean }> = {
  exit: { status: 502, endsChannel: true },
  overlong: { status: 502, endsChannel: true },
  stall: { status: 504, endsChannel: false },
  late: { status: 504, endsChannel: false },
};
/** The fixture's faults, weighted: those that cost a request timeout are drawn less often. */
const FAULTS = ['exit', 'exit', 'overlong', 'stall', 'late', 'noise', 'noise', 'progress', 'progress'];

/** A proxy in front of recording children, and what they received. */
async function stdioFuzzProxy(
  options: Partial<StdioUpstreamOptions>,
): Promise<{ proxy: FuzzProxy; carried: () => Carried[]; [Symbol.asyncDispose](): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-raw-fuzz-'));
  const recordFile = join(dir, 'received.jsonl');
  writeFileSync(recordFile, '');
  const proxy = await startFuzzProxy((log) =>
    createStdioUpstream({ ...options, command: process.execPath, args: [FIXTURE, recordFile], log }),
  );
  return {
    proxy,
    carried: () => carried(recordFile),
    async [Symbol.asyncDispose]() {
      await proxy.h.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Every message any child has received, from the record file, on the channel of the child's pid. A
 * call's marker is the child's count; a faulted call's is the client's id (its `message` argument),
 * which the proxy's error answer carries.
 */
function carried(recordFile: string): Carried[] {
  const calls = new Map<number, number>();
  return readFileSync(recordFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((entry) => {
      const { pid, line } = JSON.parse(entry) as { pid: number; line: string };
      const message = JSON.parse(line) as {
        id?: unknown;
        method?: string;
        params?: { arguments?: { fault?: unknown; message?: unknown } };
      };
      const isCall = message.method === 'tools/call';
      const n = calls.get(pid) ?? 0;
      if (isCall) calls.set(pid, n + 1);
      const k = carriedOverChannel(message, line, isCall ? `p${pid}n${n}` : '');
      const fault = isCall ? FAULT_ANSWERS[String(message.params?.arguments?.fault)] : undefined;
      if (!fault || !k.byClient) return { ...k, channel: String(pid) };
      return { ...k, channel: String(pid), marker: String(message.params?.arguments?.message), ...fault };
    });
}

test('raw-socket fuzz, stdio upstream: client, children and audit agree', async () => {
  const { seed, cases } = fuzzRun(20261126);
  await using target = await stdioFuzzProxy({});
  const run = await runRawFuzz({ h: target.proxy.h, carried: target.carried, sessions: true }, seed, cases);
  assertSpread(run, cases, 1 / 8, true);
  assert.deepEqual(target.proxy.errors, [], 'the upstream logged no error');
});

test('raw-socket fuzz, stdio upstream whose children fail: every call the child was given is answered once', async () => {
  const { seed, cases } = fuzzRun(20261128);
  // Long enough for a child to start on a busy machine (an initialize has the same limit).
  const requestTimeoutMs = 2000;
  await using target = await stdioFuzzProxy({
    requestTimeoutMs,
    maxLineBytes: 64 * 1024,
    env: { FIXTURE_LATE_MS: String(requestTimeoutMs * 2) },
  });
  const run = await runRawFuzz(
    { h: target.proxy.h, carried: target.carried, sessions: true, faults: FAULTS, faultMs: requestTimeoutMs },
    seed,
    cases,
  );
  assertSpread(run, cases, 1 / 8, true);
  for (const error of target.proxy.errors)
    assert.match(
      error,
      /over-long stdout line/,
      'the only errors logged are the children killed for framing',
    );
});
