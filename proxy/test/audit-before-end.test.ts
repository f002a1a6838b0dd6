/**
 * The audit event of an exchange is recorded before the client can see the end of its response: a
 * SIGKILL right after a client got its answer must not lose the event. Checked on real sockets by
 * counting, at the moment the event is recorded, the bytes the proxy has handed to the client's
 * connection: they must fall short of the complete response the client finally receives.
 */
import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { type Harness, startHarness } from './helpers/harness.ts';

const noLog = () => {};

/** Answers tools/call with JSON (Content-Length) or, for the tool "sse", with an event stream. */
function startUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const msg = JSON.parse(body) as { id: number; params: { name: string } };
      const answer = JSON.stringify({
        jsonrpc: '2.0',
        id: msg.id,
        result: { content: [{ type: 'text', text: 'x'.repeat(2000) }] },
      });
      if (msg.params.name === 'sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(': opening\n\n');
        res.end(`event: message\ndata: ${answer}\n\n`);
      } else {
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(answer),
        });
        // In two writes, so that the last one is what completes the declared length.
        res.write(answer.slice(0, 1000));
        res.end(answer.slice(1000));
      }
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

interface Observed {
  /** Bytes the proxy had handed to the connection when it recorded the event. */
  atRecord: number;
  /** Bytes the client received in all. */
  received: number;
  response: string;
}

/** One exchange over a fresh `Connection: close` connection, so the response ends with the socket. */
async function exchange(
  h: Harness,
  bytesAtRecord: () => number | undefined,
  headers: Record<string, string>,
  body: string,
): Promise<Observed> {
  const { port } = h.server.address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  const head = Object.entries({
    host: `127.0.0.1:${port}`,
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
    'content-length': String(Buffer.byteLength(body)),
    connection: 'close',
    ...headers,
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(`POST /mcp HTTP/1.1\r\n${head}\r\n${body}`);
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  await new Promise<void>((resolve, reject) => socket.once('end', resolve).once('error', reject));
  socket.destroy();
  const all = Buffer.concat(chunks);
  const atRecord = bytesAtRecord();
  assert.ok(atRecord !== undefined, 'the exchange was audited');
  return { atRecord, received: all.length, response: all.toString('utf8') };
}

function setup(policy?: Parameters<typeof startHarness>[0]['policy']) {
  const state: { h?: Harness; upstream?: Server; current?: ServerResponse; atRecord?: number } = {};
  before(async () => {
    state.upstream = await startUpstream();
    const url = new URL(`http://127.0.0.1:${(state.upstream.address() as AddressInfo).port}/mcp`);
    state.h = await startHarness({
      upstream: createHttpUpstream({ url, log: noLog }),
      policy,
      onAudit: () => {
        state.atRecord = state.current?.socket?.bytesWritten;
      },
    });
    state.h.server.prependListener('request', (_req, res: ServerResponse) => {
      state.current = res;
      state.atRecord = undefined;
    });
  });
  after(async () => {
    await state.h?.close();
    state.upstream?.close();
  });
  const call = async (tool: string, id: number) =>
    exchange(
      state.h!,
      () => state.atRecord,
      { authorization: `Bearer ${await state.h!.token()}` },
      JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: tool, arguments: {} } }),
    );
  return { state, call };
}

describe('the audit event is recorded before the response ends', () => {
  const { state, call } = setup();

  test('a JSON answer with Content-Length: its last bytes wait for the record', async () => {
    const o = await call('echo', 1);
    assert.match(o.response, /^HTTP\/1\.1 200 /);
    assert.match(o.response, /"id":1/);
    assert.ok(o.atRecord < o.received, `recorded after ${o.atRecord} of ${o.received} bytes had gone out`);
    assert.equal(state.h!.audit.at(-1)?.outcome, 'ok');
  });

  test('an event stream: its end waits for the record', async () => {
    const o = await call('sse', 2);
    assert.match(o.response, /text\/event-stream/);
    assert.match(o.response, /"id":2/);
    assert.ok(o.atRecord < o.received, `recorded after ${o.atRecord} of ${o.received} bytes had gone out`);
  });

  test('a refusal: recorded before the answer goes out', async () => {
    const o = await exchange(
      state.h!,
      () => state.atRecord,
      {},
      JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'echo' } }),
    );
    assert.match(o.response, /^HTTP\/1\.1 401 /);
    assert.ok(o.atRecord < o.received, `recorded after ${o.atRecord} of ${o.received} bytes had gone out`);
    assert.equal(state.h!.audit.at(-1)?.outcome, 'unauthenticated');
  });
});

describe('the same with audit body capture (the response passes through the rewriter)', () => {
  const { state, call } = setup({ auditBodies: { enabled: true, maxBytes: 4096 } });

  test('a JSON answer: recorded, with its body, before its last bytes go out', async () => {
    const o = await call('echo', 4);
    assert.match(o.response, /"id":4/);
    assert.ok(o.atRecord < o.received, `recorded after ${o.atRecord} of ${o.received} bytes had gone out`);
    assert.match(state.h!.audit.at(-1)?.responseBody ?? '', /"id":4/);
  });

  test('an event stream: its end waits for the record', async () => {
    const o = await call('sse', 5);
    assert.match(o.response, /"id":5/);
    assert.ok(o.atRecord < o.received, `recorded after ${o.atRecord} of ${o.received} bytes had gone out`);
  });
});
