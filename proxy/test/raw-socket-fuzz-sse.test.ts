/**
 * The raw-socket fuzz (`helpers/raw-fuzz.ts`) against an upstream that speaks only the deprecated
 * HTTP+SSE transport (2024-11-05): the MCP SDK's `SSEServerTransport` fixture. As with stdio, the proxy
 * holds the sessions itself, one SSE connection each, and serves stateless requests on warm ones; here
 * every message also crosses the proxy's SSE client, and the answers come back on the event stream
 * rather than as the POST's answer. Its first run found notifications answered `202` before the server
 * had them, and lost when a `DELETE` followed (see `sse-legacy-upstream.test.ts`).
 *
 * Two runs: one with a well-behaved server, and one where calls make it refuse their POST, end the
 * SSE stream under them, or never answer.
 *
 * Seeded: RAW_FUZZ_SEED=<n> RAW_FUZZ_CASES=<n> node --test proxy/test/raw-socket-fuzz-sse.test.ts
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createSseLegacyUpstream,
  type SseLegacyUpstreamOptions,
} from '../src/upstream/sse-legacy-upstream.ts';
import { type SseLegacyServer, startSseLegacyServer } from './fixtures/sse-legacy-server.ts';
import {
  assertSpread,
  type Carried,
  carriedOverChannel,
  fuzzRun,
  runRawFuzz,
  startFuzzProxy,
} from './helpers/raw-fuzz.ts';

/** What the client must be told of a call whose server was asked for `fault`. */
const FAULT_ANSWERS: Record<string, { status: number; endsChannel: boolean }> = {
  refuse: { status: 502, endsChannel: true },
  drop: { status: 502, endsChannel: true },
  stall: { status: 504, endsChannel: false },
};
/** The faults a call may ask the server for. */
const FAULTS = ['refuse', 'drop', 'stall'];

/** The server, a proxy in front of it, and what the server received. */
async function sseFuzzProxy(faults: boolean, options: Partial<SseLegacyUpstreamOptions> = {}) {
  const server = await startSseLegacyServer({ faults });
  const proxy = await startFuzzProxy((log) => createSseLegacyUpstream({ ...options, url: server.url, log }));
  return {
    proxy,
    server,
    carried: () => carried(server),
    async [Symbol.asyncDispose]() {
      await proxy.h.close();
      await server.close();
    },
  };
}

/**
 * Every message the server has received, on the channel of its SSE session; its `echo` tool answers
 * `echo: <message>`, and a faulted call's marker is the client's id, which the proxy's error carries.
 */
function carried(server: SseLegacyServer): Carried[] {
  return server.messages.map((message, i) => {
    const args = (message.params as { arguments?: { message?: unknown; fault?: unknown } } | undefined)
      ?.arguments;
    const isCall = message.method === 'tools/call';
    const k = carriedOverChannel(
      message,
      JSON.stringify(message),
      isCall ? `echo: ${String(args?.message)}` : '',
    );
    const fault = isCall ? FAULT_ANSWERS[String(args?.fault)] : undefined;
    const channel = server.channels[i];
    if (!fault || !k.byClient) return { ...k, channel };
    return { ...k, channel, marker: String(args?.message), ...fault };
  });
}

test('raw-socket fuzz, HTTP+SSE upstream: client, server and audit agree', async () => {
  const { seed, cases } = fuzzRun(20261127);
  await using target = await sseFuzzProxy(false);
  const run = await runRawFuzz({ h: target.proxy.h, carried: target.carried, sessions: true }, seed, cases);
  assertSpread(run, cases, 1 / 8, true);
  assert.deepEqual(target.proxy.errors, [], 'the upstream logged no error');
  const withToken = target.server.requests.filter((r) => r.authorization !== undefined);
  assert.deepEqual(withToken, [], "no client's token reached the server");
});

test('raw-socket fuzz, HTTP+SSE upstream that fails calls: every call the server was given is answered once', async () => {
  const { seed, cases } = fuzzRun(20261129);
  // Opening a channel here is an in-process GET, not a child starting: it needs less time than stdio.
  const requestTimeoutMs = 1000;
  await using target = await sseFuzzProxy(true, { requestTimeoutMs });
  const run = await runRawFuzz(
    { h: target.proxy.h, carried: target.carried, sessions: true, faults: FAULTS, faultMs: requestTimeoutMs },
    seed,
    cases,
  );
  assertSpread(run, cases, 1 / 8, true);
  assert.deepEqual(target.proxy.errors, [], 'the upstream logged no error');
});
