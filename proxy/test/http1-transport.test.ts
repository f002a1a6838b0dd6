/**
 * The sidecar's HTTP/1.1 client on real sockets: keep-alive reuse and its limits, framing in every
 * form a server can use, and every way an exchange can fail (refused, malformed, silent, aborted,
 * closed while idle, a header that would split the request). Bytes past an answer's end never become
 * the next request's answer.
 */
import assert from 'node:assert/strict';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import {
  type AddressInfo,
  createServer as createNetServer,
  type Server as NetServer,
  type Socket,
} from 'node:net';
import { after, describe, test } from 'node:test';
import { createHttp1Transport } from '../src/upstream/http1-transport.ts';
import type { UpstreamRequest, UpstreamResponse } from '../src/upstream/upstream-transport.ts';

const servers: (Server | NetServer)[] = [];
after(() => {
  for (const s of servers) {
    (s as Server).closeAllConnections?.();
    s.close();
  }
});

async function listen<T extends Server | NetServer>(server: T): Promise<URL> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`);
}

/** A node:http upstream; counts the connections it has seen. */
async function httpUpstream(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const seen = { connections: 0, open: 0, maxOpen: 0 };
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => handler(req, res, body));
  });
  server.on('connection', (socket: Socket) => {
    seen.connections++;
    seen.open++;
    seen.maxOpen = Math.max(seen.maxOpen, seen.open);
    socket.on('close', () => seen.open--);
  });
  return { url: await listen(server), seen, server };
}

/** A raw upstream that answers every request on a connection with `answer`. */
async function rawUpstream(answer: string | ((socket: Socket) => void)) {
  const server = createNetServer((socket) => {
    socket.on('data', () => {
      if (typeof answer === 'string') socket.write(answer);
      else answer(socket);
    });
    socket.on('error', () => {});
  });
  return listen(server);
}

function request(over: Partial<UpstreamRequest> = {}): UpstreamRequest {
  return {
    method: 'POST',
    path: '/mcp',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from('{"jsonrpc":"2.0","id":1,"method":"ping"}'),
    signal: new AbortController().signal,
    stripOnCrossOriginRedirect: [],
    ...over,
  };
}

async function text(res: UpstreamResponse): Promise<string> {
  let out = '';
  for await (const chunk of res.body) out += (chunk as Buffer).toString();
  return out;
}

const transportFor = (url: URL, over: { connections?: number; headersTimeoutMs?: number } = {}) =>
  createHttp1Transport({
    url,
    connections: over.connections ?? 4,
    headersTimeoutMs: over.headersTimeoutMs ?? 5_000,
  });

describe('exchanges', () => {
  test('requests reuse one kept-alive connection, and carry the method, path, headers and body', async () => {
    const got: { method?: string; url?: string; host?: string; type?: string; body?: string }[] = [];
    const up = await httpUpstream((req, res, body) => {
      got.push({
        method: req.method,
        url: req.url,
        host: req.headers.host,
        type: req.headers['content-type'],
        body,
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
    const t = transportFor(up.url);
    for (let i = 0; i < 3; i++) {
      const res = await t.request(request());
      assert.equal(res.statusCode, 200);
      assert.equal(res.headers['content-type'], 'application/json');
      assert.equal(await text(res), '{"ok":true}');
    }
    assert.equal(up.seen.connections, 1);
    assert.deepEqual(got[0], {
      method: 'POST',
      url: '/mcp',
      host: up.url.host,
      type: 'application/json',
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });
    await t.close();
  });

  test('no more connections than allowed: later requests wait for a free one', async () => {
    const up = await httpUpstream((_req, res) => {
      setTimeout(() => res.writeHead(200, { 'content-type': 'text/plain' }).end('late'), 50);
    });
    const t = transportFor(up.url, { connections: 2 });
    const answers = await Promise.all(Array.from({ length: 6 }, () => t.request(request()).then(text)));
    assert.deepEqual(answers, Array(6).fill('late'));
    assert.equal(up.seen.maxOpen, 2);
    await t.close();
  });

  test('a streamed (chunked) answer arrives piece by piece, and a GET carries no body', async () => {
    const up = await httpUpstream((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${req.method}\n\n`);
      setTimeout(() => res.end('data: end\n\n'), 20);
    });
    const t = transportFor(up.url);
    const res = await t.request(request({ method: 'GET', body: undefined }));
    assert.equal(await text(res), 'data: GET\n\ndata: end\n\n');
    await t.close();
  });

  test('an answer delimited by the close is read whole, and its connection is not reused', async () => {
    let connections = 0;
    const server = createNetServer((socket) => {
      connections++;
      socket.once('data', () =>
        socket.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n\r\nuntil the end'),
      );
    });
    const url = await listen(server);
    const t = transportFor(url);
    assert.equal(await text(await t.request(request())), 'until the end');
    assert.equal(await text(await t.request(request())), 'until the end');
    assert.equal(connections, 2);
    await t.close();
  });

  test('streams read at the same time on several connections stay whole, heads split across reads too', async () => {
    // All connections read into one buffer: a body piece that is not copied out before the next read
    // would show another stream's bytes.
    const server = createNetServer((socket) => {
      socket.once('data', (d: Buffer) => {
        const who = /x-who: (\w+)/.exec(d.toString())![1]!;
        const head = 'HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n';
        socket.write(head.slice(0, 20));
        let i = 0;
        const timer = setInterval(() => {
          if (i === 0) socket.write(head.slice(20));
          const piece = `${who}${i}`.padEnd(300, who[0]);
          socket.write(`${piece.length.toString(16)}\r\n${piece}\r`);
          socket.write('\n');
          if (++i === 20) {
            clearInterval(timer);
            socket.write('0\r\n\r\n');
          }
        }, 2);
      });
    });
    const url = await listen(server);
    const t = transportFor(url);
    const names = ['alpha', 'beta', 'gamma', 'delta'];
    // The pieces are kept as they came and joined at the end, as a socket's write queue keeps them.
    const kept = async (res: UpstreamResponse) => {
      const pieces: Buffer[] = [];
      for await (const chunk of res.body) pieces.push(chunk as Buffer);
      return Buffer.concat(pieces).toString();
    };
    try {
      const bodies = await Promise.all(
        names.map((who) => t.request(request({ headers: { 'x-who': who } })).then(kept)),
      );
      bodies.forEach((body, n) => {
        const who = names[n]!;
        const expected = Array.from({ length: 20 }, (_, i) => `${who}${i}`.padEnd(300, who[0])).join('');
        assert.equal(body, expected);
      });
    } finally {
      await t.close();
    }
  });

  test('a connection the upstream closed while idle is not used again', async () => {
    let connections = 0;
    const server = createNetServer((socket) => {
      connections++;
      socket.on('data', () => {
        socket.write('HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfresh');
        // Kept alive, then closed while idle, as a server's keep-alive timeout does.
        setTimeout(() => socket.end(), 50);
      });
    });
    const url = await listen(server);
    const t = transportFor(url);
    assert.equal(await text(await t.request(request())), 'fresh');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await text(await t.request(request())), 'fresh');
    assert.equal(connections, 2);
    await t.close();
  });

  // A response that ends before its bytes do, and a server that speaks HTTP/1.0 with chunks (whose
  // framing is faulty, RFC 9112 §6.1: it is refused): if the connection were reused, the extra bytes
  // would be read as the answer to the next client's request.
  for (const [what, answer, first] of [
    [
      'bytes after the end of the answer',
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nfirst' +
        'HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged',
      'first',
    ],
    [
      'an HTTP/1.0 keep-alive answer with chunks',
      'HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n0\r\n\r\n',
      'refused',
    ],
  ] as const) {
    test(`after ${what}, the connection is not reused: the next request gets its own answer`, async () => {
      const sockets: Socket[] = [];
      const server = createNetServer((socket) => {
        sockets.push(socket);
        socket.on('error', () => {});
        socket.once('data', () => {
          if (sockets.length > 1) {
            socket.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nreal');
            return;
          }
          socket.write(answer);
          // The tail a close-delimited HTTP/1.0 body would have had, arriving after the answer.
          setTimeout(() => socket.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nforged'), 20);
        });
      });
      const url = await listen(server);
      const t = transportFor(url, { headersTimeoutMs: 2_000 });
      try {
        if (first === 'refused')
          await assert.rejects(t.request(request()), { code: 'UPSTREAM_BAD_RESPONSE' });
        else assert.equal(await text(await t.request(request())), 'first');
        assert.equal(await text(await t.request(request())), 'real');
        assert.equal(sockets.length, 2);
      } finally {
        await t.close();
        for (const socket of sockets) socket.destroy();
      }
    });
  }
});

describe('failures', () => {
  test('a refused connection rejects with its code', async () => {
    const server = createNetServer();
    const url = await listen(server);
    server.close();
    await new Promise((r) => setTimeout(r, 50));
    const t = transportFor(url);
    await assert.rejects(t.request(request()), { code: 'ECONNREFUSED' });
    await t.close();
  });

  test('a malformed answer rejects as a bad response', async () => {
    const url = await rawUpstream(
      'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n',
    );
    const t = transportFor(url);
    await assert.rejects(t.request(request()), { code: 'UPSTREAM_BAD_RESPONSE' });
    await t.close();
  });

  test('a body cut short fails its reader', async () => {
    const url = await rawUpstream((socket) =>
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort'),
    );
    const t = transportFor(url);
    const res = await t.request(request());
    await assert.rejects(text(res), { code: 'UPSTREAM_BAD_RESPONSE' });
    await t.close();
  });

  test('an upstream that never answers times out', async () => {
    const url = await rawUpstream(() => {});
    const t = transportFor(url, { headersTimeoutMs: 100 });
    await assert.rejects(t.request(request()), { code: 'UPSTREAM_HEADERS_TIMEOUT' });
    await t.close();
  });

  test('a request waiting for a pool held by open streams times out, and changes nothing', {
    timeout: 10_000,
  }, async () => {
    // Every connection carries a stream that never ends, as long-lived GET streams do.
    const up = await httpUpstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': open\n\n');
    });
    const t = transportFor(up.url, { connections: 2, headersTimeoutMs: 300 });
    const streams = [await t.request(request()), await t.request(request())];
    await assert.rejects(t.request(request()), { code: 'UPSTREAM_HEADERS_TIMEOUT' });
    assert.equal(up.seen.connections, 2, 'no connection beyond the limit');
    // One stream ends (its reader leaves): its connection is closed, and the pool has room again.
    streams[0]!.body.destroy();
    const next = await t.request(request());
    assert.equal(next.statusCode, 200);
    next.body.destroy();
    streams[1]!.body.destroy();
    await t.close();
  });

  test('an abort ends the exchange, before and after the head', async () => {
    const url = await rawUpstream((socket) =>
      socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n'),
    );
    const t = transportFor(url);
    const early = new AbortController();
    early.abort();
    await assert.rejects(t.request(request({ signal: early.signal })), { name: 'AbortError' });
    const late = new AbortController();
    const res = await t.request(request({ signal: late.signal }));
    const reading = text(res);
    late.abort();
    await assert.rejects(reading, { name: 'AbortError' });
    await t.close();
  });

  test('a header that would split the request is refused before anything is sent', async () => {
    let received = 0;
    const url = await rawUpstream(() => received++);
    const t = transportFor(url);
    await assert.rejects(t.request(request({ headers: { 'x-a': 'a\r\nx-injected: 1' } })), {
      code: 'ERR_INVALID_CHAR',
    });
    await assert.rejects(t.request(request({ headers: { 'bad name': 'x' } })), { code: 'ERR_INVALID_CHAR' });
    assert.equal(received, 0);
    await t.close();
  });
});
