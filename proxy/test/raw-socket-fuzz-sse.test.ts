/**
 * The raw-socket fuzz (`helpers/raw-fuzz.ts`) against an upstream that speaks only the deprecated
 * HTTP+SSE transport (2024-11-05): the MCP SDK's `SSEServerTransport` fixture. As with stdio, the proxy
 * holds the sessions itself, one SSE connection each, and serves stateless requests on warm ones; here
 * every message also crosses the proxy's SSE client, and the answers come back on the event stream
 * rather than as the POST's answer. Its first run found notifications answered `202` before the server
 * had them, and lost when a `DELETE` followed (see `sse-legacy-upstream.test.ts`).
 *
 * Seeded: RAW_FUZZ_SEED=<n> RAW_FUZZ_CASES=<n> node --test proxy/test/raw-socket-fuzz-sse.test.ts
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createSseLegacyUpstream } from '../src/upstream/sse-legacy-upstream.ts';
import { type SseLegacyServer, startSseLegacyServer } from './fixtures/sse-legacy-server.ts';
import {
  assertSpread,
  type Carried,
  carriedOverChannel,
  type FuzzProxy,
  fuzzRun,
  runRawFuzz,
  startFuzzProxy,
} from './helpers/raw-fuzz.ts';

const { seed: SEED, cases: CASES } = fuzzRun(20261127);

let server: SseLegacyServer;
let proxy: FuzzProxy;

before(async () => {
  server = await startSseLegacyServer();
  proxy = await startFuzzProxy((log) => createSseLegacyUpstream({ url: server.url, log }));
});

after(async () => {
  await proxy?.h.close();
  await server?.close();
});

/** Every message the server has received; its `echo` tool answers `echo: <message>`. */
function carried(): Carried[] {
  return server.messages.map((message) =>
    carriedOverChannel(
      message,
      JSON.stringify(message),
      message.method === 'tools/call'
        ? `echo: ${String((message.params as { arguments?: { message?: unknown } })?.arguments?.message)}`
        : '',
    ),
  );
}

test(`raw-socket fuzz, HTTP+SSE upstream (seed ${SEED}, ${CASES} cases): client, server and audit agree`, async () => {
  const run = await runRawFuzz({ h: proxy.h, carried, sessions: true }, SEED, CASES);
  assertSpread(run, CASES, 1 / 8, true);
  assert.deepEqual(proxy.errors, [], 'the upstream logged no error');
  const withToken = server.requests.filter((r) => r.authorization !== undefined);
  assert.deepEqual(withToken, [], "no client's token reached the server");
});
