/**
 * The raw-socket fuzz (`helpers/raw-fuzz.ts`) against a Streamable HTTP upstream: a plain `node:http`
 * server that records every request with its headers and answers each call with a marker of its own.
 * The first run of this test found the GET/DELETE bug of `get-delete-bodies.test.ts` (a call carried out
 * upstream while the client was told something else).
 *
 * Seeded: RAW_FUZZ_SEED=<n> RAW_FUZZ_CASES=<n> node --test proxy/test/raw-socket-fuzz.test.ts
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import type { Harness } from './helpers/harness.ts';
import { assertSpread, type Carried, fuzzRun, runRawFuzz, startFuzzProxy } from './helpers/raw-fuzz.ts';

const { seed: SEED, cases: CASES } = fuzzRun(20261125);

let upstream: Server;
const carried: Carried[] = [];
let h: Harness;

before(async () => {
  upstream = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const record: Carried = {
        method: req.method ?? '',
        headers: req.headers,
        body,
        byClient: true,
        status: 200,
        marker: `m${carried.length}`,
        traceId: String(req.headers.traceparent ?? '').split('-')[1] ?? '',
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
      const answer =
        req.method === 'POST'
          ? { jsonrpc: '2.0', id, result: { marker: record.marker } }
          : { marker: record.marker };
      res.writeHead(record.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const url = new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`);
  ({ h } = await startFuzzProxy((log) => createHttpUpstream({ url, log })));
});

after(async () => {
  await h?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

test(`raw-socket fuzz, HTTP upstream (seed ${SEED}, ${CASES} cases): client, upstream and audit agree`, async () => {
  const run = await runRawFuzz({ h, carried: () => carried }, SEED, CASES);
  assertSpread(run, CASES, 1 / 4);
});
