/**
 * The raw-socket fuzz (`helpers/raw-fuzz.ts`) against a stdio upstream: here the proxy is the session's
 * server itself (legacy sessions, each with its own child; stateless requests on warm children it
 * initializes), so the fuzz also reaches the session registry, the principal binding of sessions, the
 * DELETE that ends one, and the id rewriting toward warm children. The children are
 * `stdio-recording-fixture.mjs`, which writes every message down before it answers.
 *
 * Seeded: RAW_FUZZ_SEED=<n> RAW_FUZZ_CASES=<n> node --test proxy/test/raw-socket-fuzz-stdio.test.ts
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createStdioUpstream } from '../src/upstream/stdio-upstream.ts';
import {
  assertSpread,
  type Carried,
  carriedOverChannel,
  type FuzzProxy,
  fuzzRun,
  runRawFuzz,
  startFuzzProxy,
} from './helpers/raw-fuzz.ts';

const { seed: SEED, cases: CASES } = fuzzRun(20261126);
const FIXTURE = fileURLToPath(new URL('./fixtures/stdio-recording-fixture.mjs', import.meta.url));

let dir: string;
let recordFile: string;
let proxy: FuzzProxy;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-raw-fuzz-'));
  recordFile = join(dir, 'received.jsonl');
  writeFileSync(recordFile, '');
  proxy = await startFuzzProxy((log) =>
    createStdioUpstream({ command: process.execPath, args: [FIXTURE, recordFile], log }),
  );
});

after(async () => {
  await proxy?.h.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Every message any child has received, from the record file; a call's marker is the child's count. */
function carried(): Carried[] {
  const calls = new Map<number, number>();
  return readFileSync(recordFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((entry) => {
      const { pid, line } = JSON.parse(entry) as { pid: number; line: string };
      const message = JSON.parse(line) as { id?: unknown; method?: string };
      const n = calls.get(pid) ?? 0;
      if (message.method === 'tools/call') calls.set(pid, n + 1);
      return carriedOverChannel(message, line, message.method === 'tools/call' ? `p${pid}n${n}` : '');
    });
}

test(`raw-socket fuzz, stdio upstream (seed ${SEED}, ${CASES} cases): client, children and audit agree`, async () => {
  const run = await runRawFuzz({ h: proxy.h, carried, sessions: true }, SEED, CASES);
  assertSpread(run, CASES, 1 / 8, true);
  assert.deepEqual(proxy.errors, [], 'the upstream logged no error');
});
