/**
 * The proxy relays an upstream's answer at the client's pace: while a client does not read, the proxy
 * stops reading from the upstream, so a large event stream cannot pile up in the proxy's memory. The
 * upstream below writes as fast as its socket lets it; the bytes it manages to hand over while the
 * client reads nothing must stay near what the sockets' buffers hold, far below the whole stream.
 * And once the client reads again, the stream arrives whole.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, test } from 'node:test';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { type Harness, startHarness } from './helpers/harness.ts';

const CHUNK = 64 * 1024;
const CHUNKS = 512; // 32 MiB in all
const noLog = () => {};

/** An upstream that answers any POST with a 32 MiB event stream, as fast as its socket drains. */
function startFloodingUpstream(progress: { written: number; done: boolean }): Promise<Server> {
  const event = Buffer.from(`data: ${'x'.repeat(CHUNK - 8)}\n\n`);
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let sent = 0;
      const pump = () => {
        while (sent < CHUNKS) {
          sent++;
          progress.written += event.length;
          if (!res.write(event)) return void res.once('drain', pump);
        }
        progress.done = true;
        res.end();
      };
      pump();
    });
  });
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server)));
}

const progress = { written: 0, done: false };
let upstream: Server;
let h: Harness;

before(async () => {
  upstream = await startFloodingUpstream(progress);
  const url = new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`);
  h = await startHarness({ upstream: createHttpUpstream({ url, log: noLog }) });
});

after(async () => {
  await h.close();
  upstream.close();
});

test('a client that stops reading stops the upstream, and then gets the whole stream', async () => {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'flood' } });
  const { port } = h.server.address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  socket.write(
    `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\ncontent-type: application/json\r\n` +
      `accept: application/json, text/event-stream\r\nauthorization: Bearer ${await h.token()}\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
  socket.pause();
  // Wait until the upstream has started, then until it has stalled: its count stops moving.
  let last = -1;
  for (let i = 0; i < 300 && (progress.written === 0 || progress.written !== last); i++) {
    last = progress.written;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(progress.written > 0, 'the upstream never started its stream');
  const total = CHUNK * CHUNKS;
  assert.equal(progress.done, false, 'the upstream finished its whole stream while the client read nothing');
  assert.ok(
    progress.written < total / 2,
    `the upstream handed over ${progress.written} of ${total} bytes while the client read nothing`,
  );

  let received = 0;
  socket.on('data', (d: Buffer) => {
    received += d.length;
  });
  socket.resume();
  await new Promise<void>((resolve, reject) => socket.once('end', resolve).once('error', reject));
  socket.destroy();
  assert.equal(progress.done, true);
  assert.ok(received > total, `the client received ${received} bytes, the stream is ${total}`);
});
