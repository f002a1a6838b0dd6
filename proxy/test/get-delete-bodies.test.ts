/**
 * A GET or a DELETE has no use for a body, but it goes upstream only once its body has ended. When
 * the body is malformed the server refuses the request itself (400, connection closed), and when the
 * client goes away mid-body no one is left to answer: in both cases the request must not have been
 * carried out upstream, nor audited as answered. Found by a raw-socket fuzz run: the request used to
 * be forwarded while the client was told 400, and the audit said 200.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { after, before, test } from 'node:test';
import { createHttpUpstream } from '../src/upstream/http-upstream.ts';
import { type Harness, startHarness } from './helpers/harness.ts';

const MAX_BODY = 4096;
let upstream: Server;
let h: Harness;
let token: string;
/** The requests the upstream received, as "METHOD path". */
const seen: string[] = [];

before(async () => {
  upstream = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const url = new URL(`http://127.0.0.1:${(upstream.address() as AddressInfo).port}/mcp`);
  h = await startHarness({ upstream: createHttpUpstream({ url, log: () => {} }), maxBodyBytes: MAX_BODY });
  token = await h.token();
});

after(async () => {
  await h?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

/**
 * Sends `head` (request line and fields, without the blank line) and then `body` over a fresh
 * connection; resolves with what came back once the proxy closes it, or once `closeAfterMs` has
 * passed, when the client closes it itself.
 */
async function raw(head: string, body: string, closeAfterMs?: number): Promise<string> {
  const { port } = h.server.address() as AddressInfo;
  const socket = connect(port, '127.0.0.1');
  let got = '';
  socket.on('data', (d: Buffer) => {
    got += d.toString('latin1');
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.write(`${head}\r\n\r\n${body}`);
  if (closeAfterMs !== undefined) setTimeout(() => socket.destroy(), closeAfterMs);
  await closed;
  return got;
}

function fields(method: string, extra: string): string {
  return [
    `${method} /mcp HTTP/1.1`,
    'Host: proxy.test',
    `Authorization: Bearer ${token}`,
    'Accept: application/json, text/event-stream',
    extra,
  ].join('\r\n');
}

/** Lets anything the proxy might still send upstream arrive before the test looks. */
const settle = () => new Promise((r) => setTimeout(r, 200));

for (const method of ['GET', 'DELETE']) {
  test(`${method} with a malformed chunked body: 400 to the client, nothing upstream, no answered audit event`, async () => {
    seen.length = 0;
    const auditBefore = h.audit.length;
    // A chunk-size line ended by a bare LF: the server's parser refuses it.
    const answer = await raw(fields(method, 'Transfer-Encoding: chunked'), '1\nx\r\n0\r\n\r\n');
    await settle();
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.deepEqual(seen, []);
    const answered = h.audit.slice(auditBefore).filter((e) => e.httpStatus === 200);
    assert.deepEqual(answered, [], 'no event claims an answer the client never saw');
  });

  test(`${method} whose client goes away mid-body: nothing upstream`, async () => {
    seen.length = 0;
    await raw(fields(method, 'Content-Length: 100'), 'only part of it', 300);
    await settle();
    assert.deepEqual(seen, []);
  });

  test(`${method} with a body over the limit: 413, nothing upstream`, async () => {
    seen.length = 0;
    const declared = await raw(fields(method, `Content-Length: ${MAX_BODY + 1}\r\nConnection: close`), '');
    assert.match(declared, /^HTTP\/1\.1 413 /);
    const chunked = await raw(
      fields(method, 'Transfer-Encoding: chunked\r\nConnection: close'),
      `${(MAX_BODY + 1).toString(16)}\r\n${'a'.repeat(MAX_BODY + 1)}\r\n0\r\n\r\n`,
    );
    assert.match(chunked, /^HTTP\/1\.1 413 /);
    await settle();
    assert.deepEqual(seen, []);
  });
}

test('a DELETE with a small well-formed body still goes upstream, once the body has ended', async () => {
  seen.length = 0;
  const answer = await raw(fields('DELETE', 'Content-Length: 2\r\nConnection: close'), '{}');
  assert.match(answer, /^HTTP\/1\.1 200 /);
  assert.deepEqual(seen, ['DELETE /mcp']);
});
