/**
 * The proxy's inbound HTTP/1.1 server on real sockets: connection reuse and pipelining, request bodies
 * and their limits, response framing, refusals of what could be smuggled, the three timeouts, the
 * response's events and backpressure, holding back a response's end, and shutting down.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { afterEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  createHttp1Server,
  type Http1Server,
  type Http1ServerOptions,
  type RequestListener,
} from '../src/http1/http1-server.ts';
import { PayloadTooLargeError, RequestAbortedError } from '../src/http1/inbound-request.ts';
import type { OutboundResponse } from '../src/http1/outbound-response.ts';

const servers: Http1Server[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.socket.destroy();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

async function serve(handler: RequestListener, options: Http1ServerOptions = {}) {
  const server = createHttp1Server(options, handler);
  servers.push(server);
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port, connections: () => connections };
}

/** A raw client: keeps all it receives (latin1) and waits for what a test expects to see. */
class Client {
  readonly socket: Socket;
  text = '';
  isClosed = false;
  readonly closed: Promise<void>;
  #wake = new Set<() => void>();

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => {
      this.text += d;
      for (const w of this.#wake) w();
    });
    this.socket.on('error', () => {});
    this.closed = new Promise((resolve) =>
      this.socket.on('close', () => {
        this.isClosed = true;
        for (const w of this.#wake) w();
        resolve();
      }),
    );
    clients.push(this);
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Resolves once `ready(text)` holds; fails when the connection closes or time runs out first. */
  until(ready: (text: string) => boolean, what: string, ms = 5_000): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), ms);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.#wake.delete(check);
        if (err) reject(new Error(`${err.message}; received ${JSON.stringify(this.text.slice(0, 600))}`));
        else resolve(this.text);
      };
      const check = () => {
        if (ready(this.text)) finish();
        else if (this.isClosed) finish(new Error(`the connection closed before ${what}`));
      };
      this.#wake.add(check);
      check();
    });
  }

  /** Resolves once `n` whole responses have arrived. */
  async responses(n: number): Promise<Answer[]> {
    await this.until((t) => answers(t).length >= n, `${n} response(s)`);
    return answers(this.text);
  }

  /** Waits for the server to close the connection; fails if it stays open past `ms`. */
  async waitClosed(ms = 5_000): Promise<void> {
    await this.until(() => this.isClosed, 'the close', ms).catch((err: Error) => {
      if (!this.isClosed) throw err;
    });
  }
}

async function client(port: number): Promise<Client> {
  const c = new Client(port);
  await once(c.socket, 'connect');
  return c;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The whole responses at the start of `text`, framed by Content-Length or chunked (this server sends
 * no trailers); a response with neither runs to the end of `text`, so wait for the close first.
 */
function answers(text: string): Answer[] {
  const out: Answer[] = [];
  let at = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) return out;
    const [statusLine, ...lines] = text.slice(at, end).split('\r\n');
    const status = Number(statusLine!.split(' ')[1]);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    let pos = end + 4;
    let body = '';
    if (status < 200 || status === 204 || status === 304) {
      // No body.
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (text.length < pos + n) return out;
      body = text.slice(pos, pos + n);
      pos += n;
    } else if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const eol = text.indexOf('\r\n', pos);
        if (eol === -1) return out;
        const size = Number.parseInt(text.slice(pos, eol), 16);
        if (text.length < eol + 2 + size + 2) return out;
        body += text.slice(eol + 2, eol + 2 + size);
        pos = eol + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      body = text.slice(pos);
      pos = text.length;
    }
    out.push({ status, headers, body });
    at = pos;
  }
}

const get = (path = '/', fields = '') => `GET ${path} HTTP/1.1\r\nHost: a\r\n${fields}\r\n`;

/** A handler that answers with the request's path (a whole answer: framed by its length). */
const echoUrl: RequestListener = (req, res) => {
  res.end(req.url);
};

/** A promise and its resolver, for what a handler hands back to the test. */
function later<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

describe('connections', () => {
  test('two requests on one connection are answered on it', async () => {
    const { port, connections } = await serve(echoUrl);
    const c = await client(port);
    c.send(get('/one'));
    await c.responses(1);
    c.send(get('/two'));
    const [first, second] = await c.responses(2);
    assert.deepEqual([first!.status, first!.body, second!.status, second!.body], [200, '/one', 200, '/two']);
    assert.equal(first!.headers.connection, undefined);
    assert.equal(first!.headers['content-length'], '4');
    assert.ok(first!.headers.date);
    // Clients learn when an idle connection will be closed, and stop reusing it before (default 5 s).
    assert.equal(first!.headers['keep-alive'], 'timeout=5');
    assert.equal(c.isClosed, false);
    assert.equal(connections(), 1);
  });

  // Undici may open a second connection when requests follow each other at once (it does with
  // node:http too): reuse is asserted on raw sockets above.
  test('fetch (undici): a POST body, plain or streamed (chunked), is read whole', async () => {
    const { port } = await serve(async (req, res) => {
      const body = await req.readBody(1024);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`${req.method} ${req.url} ${body}`);
    });
    const url = `http://127.0.0.1:${port}/mcp?x=1`;
    const first = await fetch(url, { method: 'POST', body: 'plain' });
    assert.equal(await first.text(), 'POST /mcp?x=1 plain');
    const streamed = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode('in '));
        controller.enqueue(new TextEncoder().encode('pieces'));
        controller.close();
      },
    });
    const second = await fetch(url, { method: 'POST', body: streamed, duplex: 'half' } as RequestInit);
    assert.equal(await second.text(), 'POST /mcp?x=1 in pieces');
    assert.equal(second.headers.get('transfer-encoding'), 'chunked');
  });

  test('three pipelined requests are answered in order, one at a time, though the first answers late', async () => {
    const events: string[] = [];
    const { port } = await serve((req, res) => {
      events.push(`request ${req.url}`);
      const answer = () => {
        events.push(`answer ${req.url}`);
        res.writeHead(200, { 'content-type': 'text/plain' }).end(req.url);
      };
      if (req.url === '/1') setTimeout(answer, 50);
      else answer();
    });
    const c = await client(port);
    c.send(get('/1') + get('/2') + get('/3'));
    const got = await c.responses(3);
    assert.deepEqual(
      got.map((a) => a.body),
      ['/1', '/2', '/3'],
    );
    assert.deepEqual(events, [
      'request /1',
      'answer /1',
      'request /2',
      'answer /2',
      'request /3',
      'answer /3',
    ]);
  });

  test('more than 64 KiB pipelined behind a late answer: every request is answered, in order', async () => {
    const seen: string[] = [];
    const { port } = await serve((req, res) => {
      seen.push(req.url);
      if (req.url === '/slow') setTimeout(() => res.end(req.url), 50);
      else res.end(req.url);
    });
    const c = await client(port);
    // Far more than the 64 KiB held while an answer is pending: reading pauses, then resumes.
    const pad = `X-Pad: ${'p'.repeat(2000)}\r\n`;
    const paths = Array.from({ length: 200 }, (_, i) => `/${i}`);
    c.send(get('/slow') + paths.map((path) => get(path, pad)).join(''));
    const got = await c.responses(201);
    assert.deepEqual(
      got.map((a) => [a.status, a.body]),
      ['/slow', ...paths].map((path) => [200, path]),
    );
    assert.deepEqual(seen, ['/slow', ...paths]);
  });

  test('bytes no parser accepts, pipelined behind a long answer, wait for it: it ends whole, then 400 and the close', async () => {
    let finish: (() => void) | undefined;
    const { port } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      finish = () => res.end('data: two\n\n');
    });
    const c = await client(port);
    // What an SSE stream is to an MCP client that pipelines behind it: an answer with no set end.
    c.send(`${get('/stream')}NOT A REQUEST\r\n\r\n`);
    await c.until((t) => t.includes('data: one'), 'the stream to begin');
    await sleep(50);
    assert.equal(c.isClosed, false, 'the stream is not cut for what was pipelined behind it');
    finish!();
    await c.waitClosed();
    const got = answers(c.text);
    assert.deepEqual(
      got.map((a) => a.status),
      [200, 400],
    );
    assert.equal(got[0]!.body, 'data: one\n\ndata: two\n\n');
  });

  test('after a request with Connection: close, the answer says so and nothing more is read', async () => {
    const seen: string[] = [];
    const { port } = await serve((req, res) => {
      seen.push(req.url);
      res.end(req.url);
    });
    const c = await client(port);
    c.send(get('/last', 'Connection: close\r\n') + get('/ignored'));
    await c.waitClosed();
    const got = answers(c.text);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.body, '/last');
    assert.equal(got[0]!.headers.connection, 'close');
    assert.equal(got[0]!.headers['keep-alive'], undefined);
    assert.deepEqual(seen, ['/last']);
  });

  test('an answer given before the body arrived: the body is skipped, and the next request is answered', async () => {
    const seen: string[] = [];
    const { port } = await serve((req, res) => {
      seen.push(req.url);
      res.end(req.url);
    });
    const c = await client(port);
    c.send('POST /early HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n');
    await c.responses(1);
    c.send(`GET /body${get('/next')}`);
    const got = await c.responses(2);
    assert.deepEqual(
      got.map((a) => a.body),
      ['/early', '/next'],
    );
    assert.deepEqual(seen, ['/early', '/next']);
  });

  test('the request event can be prepended to', async () => {
    const order: string[] = [];
    const { server, port } = await serve((_req, res) => {
      order.push('handler');
      res.end('ok');
    });
    server.prependListener('request', (req) => order.push(`first ${req.url}`));
    const c = await client(port);
    c.send(get('/p'));
    await c.responses(1);
    assert.deepEqual(order, ['first /p', 'handler']);
  });
});

describe('request bodies', () => {
  test('a chunked body sent in pieces is read whole with readBody', async () => {
    const { port } = await serve(async (req, res) => {
      const body = await req.readBody(1024);
      res.writeHead(200, { 'content-type': 'text/plain' }).end(`got ${body.length}: ${body}`);
    });
    const c = await client(port);
    c.send('POST /mcp HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
    for (const piece of ['5;ext=1\r\nhello\r\n', '2\r\n, \r', '\n5\r\nworld\r\n', '0\r\n\r\n']) {
      await sleep(5);
      c.send(piece);
    }
    const [a] = await c.responses(1);
    assert.equal(a!.body, 'got 12: hello, world');
  });

  for (const framing of ['Content-Length', 'chunked'] as const) {
    test(`a body over readBody's limit (${framing}) rejects with PayloadTooLargeError; 413 and the close still reach the client`, async () => {
      const caught = later<unknown>();
      const { port } = await serve(async (req, res) => {
        try {
          await req.readBody(20);
          res.end('read');
        } catch (err) {
          caught.resolve(err);
          res.writeHead(413, { 'content-type': 'text/plain', connection: 'close' }).end('too large');
        }
      });
      const c = await client(port);
      if (framing === 'Content-Length') {
        // Declared too large: refused without waiting for the body, of which only a part was sent.
        c.send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n');
        c.send('x'.repeat(100));
      } else {
        // Grows too large: refused once it passes the limit, though it never ends.
        c.send('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
        for (let i = 0; i < 5; i++) c.send(`a\r\n${'y'.repeat(10)}\r\n`);
      }
      const err = await caught.promise;
      assert.ok(err instanceof PayloadTooLargeError, String(err));
      assert.equal(err.limit, 20);
      await c.waitClosed();
      const [a, extra] = answers(c.text);
      assert.equal(a!.status, 413);
      assert.equal(a!.headers.connection, 'close');
      assert.equal(a!.body, 'too large');
      assert.equal(extra, undefined);
    });
  }

  test('Expect: 100-continue gets 100 Continue before the body is sent', async () => {
    const { port } = await serve(async (req, res) => {
      const body = await req.readBody(1024);
      res.end(`body ${body}`);
    });
    const c = await client(port);
    c.send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n');
    await c.until((t) => t.includes('\r\n\r\n'), 'the interim response');
    assert.equal(c.text, 'HTTP/1.1 100 Continue\r\n\r\n');
    c.send('hello');
    const [interim, final] = await c.responses(2);
    assert.equal(interim!.status, 100);
    assert.equal(final!.status, 200);
    assert.equal(final!.body, 'body hello');
  });

  test('an unsupported expectation gets 417, without the handler', async () => {
    let called = false;
    const { port } = await serve((_req, res) => {
      called = true;
      res.end();
    });
    const c = await client(port);
    c.send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: teapot\r\n\r\nhello');
    await c.waitClosed();
    assert.equal(answers(c.text)[0]!.status, 417);
    assert.equal(called, false);
  });

  test('readBody rejects with RequestAbortedError when the client goes away mid-body', async () => {
    const caught = later<unknown>();
    const { port } = await serve((req) => {
      req.readBody(1024).catch(caught.resolve);
    });
    const c = await client(port);
    c.send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nhalf');
    await sleep(20);
    c.socket.destroy();
    const err = await caught.promise;
    assert.ok(err instanceof RequestAbortedError, String(err));
  });
});

describe('response framing', () => {
  const streamed: RequestListener = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('ab');
    res.end('cd');
  };

  test('without a Content-Length, the answer is chunked to HTTP/1.1 and the connection stays open', async () => {
    const { port } = await serve(streamed);
    const c = await client(port);
    c.send(get());
    const [a] = await c.responses(1);
    assert.equal(a!.headers['transfer-encoding'], 'chunked');
    assert.equal(a!.headers['content-length'], undefined);
    assert.equal(a!.body, 'abcd');
    assert.ok(c.text.endsWith('\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n'), JSON.stringify(c.text));
    c.send(get());
    assert.equal((await c.responses(2))[1]!.body, 'abcd');
  });

  test('without a Content-Length, the answer to HTTP/1.0 is delimited by the close', async () => {
    const { port } = await serve(streamed);
    const c = await client(port);
    c.send('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    await c.waitClosed();
    const [a] = answers(c.text);
    assert.equal(a!.headers['transfer-encoding'], undefined);
    assert.equal(a!.headers.connection, 'close');
    assert.equal(a!.body, 'abcd');
  });

  test('HTTP/1.0 keep-alive: kept when asked for, closed otherwise', async () => {
    const { port } = await serve(echoUrl);
    const kept = await client(port);
    kept.send('GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    const [a] = await kept.responses(1);
    assert.equal(a!.headers.connection, 'keep-alive');
    kept.send('GET /k2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    assert.equal((await kept.responses(2))[1]!.body, '/k2');

    const closed = await client(port);
    closed.send('GET /c HTTP/1.0\r\n\r\n');
    await closed.waitClosed();
    const [b] = answers(closed.text);
    assert.equal(b!.body, '/c');
    assert.equal(b!.headers.connection, 'close');
  });

  test('HEAD gets the head without a body, and the connection goes on', async () => {
    const { port } = await serve((req, res) => {
      if (req.url === '/streamed') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('not sent');
        res.end();
      } else res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 5 }).end('hello');
    });
    const c = await client(port);
    c.send('HEAD /whole HTTP/1.1\r\nHost: a\r\n\r\nHEAD /streamed HTTP/1.1\r\nHost: a\r\n\r\n');
    c.send(get('/whole'));
    // Bodiless answers without a length cannot be told apart by answers(): the heads are split by hand.
    await c.until((t) => t.split('HTTP/1.1 200 OK').length === 4 && t.endsWith('hello'), 'three responses');
    const heads = c.text.split('\r\n\r\n');
    assert.match(heads[0]!, /^HTTP\/1\.1 200 OK\r\n[\s\S]*content-length: 5/);
    assert.match(heads[1]!, /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(heads[1]!, /transfer-encoding/);
    assert.match(heads[2]!, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(heads[3], 'hello');
    assert.doesNotMatch(c.text, /not sent/);
  });

  test('a header value or name with CR or LF throws TypeError, and nothing of it is sent', async () => {
    const thrown: unknown[] = [];
    const { port } = await serve((_req, res) => {
      for (const headers of [
        { 'x-evil': 'a\r\nset-cookie: owned=1' },
        { 'x-evil': ['fine', 'b\nset-cookie: owned=2'] },
        { 'x-evil\r\nset-cookie': 'owned=3' },
        { 'x-evil': 'c\0' },
      ]) {
        try {
          res.writeHead(200, headers);
        } catch (err) {
          thrown.push(err);
        }
      }
      thrown.push(res.headersSent);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('safe');
    });
    const c = await client(port);
    c.send(get());
    const [a] = await c.responses(1);
    assert.equal(thrown.length, 5);
    for (const err of thrown.slice(0, 4)) assert.ok(err instanceof TypeError, String(err));
    assert.equal(thrown[4], false);
    assert.equal(a!.body, 'safe');
    assert.doesNotMatch(c.text, /owned|x-evil|set-cookie/i);
    await sleep(20);
    assert.equal(answers(c.text).length, 1);
  });
});

describe('refused requests', () => {
  test('Content-Length with Transfer-Encoding gets 400 and the close, without the handler or the smuggled request', async () => {
    const seen: string[] = [];
    const { port } = await serve((req, res) => {
      seen.push(req.url);
      res.end();
    });
    const c = await client(port);
    c.send(
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG' +
        'GET /admin HTTP/1.1\r\nHost: a\r\n\r\n',
    );
    await c.waitClosed();
    const got = answers(c.text);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.status, 400);
    assert.equal(got[0]!.headers.connection, 'close');
    assert.equal(c.text.split('HTTP/1.1 ').length, 2);
    assert.deepEqual(seen, []);
  });

  test('a malformed request gets a JSON error and the close', async () => {
    const cases: [string, number, string][] = [
      [get('/', 'Host : b\r\n'), 400, 'bad_request'],
      [get('/', 'X-Folded: a\r\n b\r\n'), 400, 'bad_request'],
      ['GET / HTTP/1.1\r\n\r\n', 400, 'bad_request'],
      ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 505, 'http_version_not_supported'],
      ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', 501, 'not_implemented'],
      [get('/', `X-Pad: ${'p'.repeat(300)}\r\n`), 431, 'request_header_fields_too_large'],
    ];
    let called = 0;
    const { port } = await serve(
      (_req, res) => {
        called++;
        res.end();
      },
      { maxHeadBytes: 256 },
    );
    for (const [raw, status, error] of cases) {
      const c = await client(port);
      c.send(raw);
      await c.waitClosed();
      const [a] = answers(c.text);
      assert.equal(a!.status, status, raw);
      assert.equal(a!.headers['content-type'], 'application/json');
      assert.equal(a!.headers.connection, 'close');
      const body = JSON.parse(a!.body) as { error: string; error_description: string };
      assert.equal(body.error, error);
      assert.equal(typeof body.error_description, 'string');
    }
    assert.equal(called, 0);
  });

  test('a malformed chunked body under a handler that has not answered: 400, and its read fails', async () => {
    const caught = later<unknown>();
    let late: unknown;
    const { port } = await serve((req, res) => {
      req.readBody(1024).catch((err: unknown) => {
        caught.resolve(err);
        // What a handler writes after its request was refused goes nowhere, and does not throw.
        try {
          res.end('too late');
        } catch (e) {
          late = e;
        }
      });
    });
    const c = await client(port);
    c.send('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n');
    await c.waitClosed();
    assert.ok((await caught.promise) instanceof RequestAbortedError);
    assert.equal(late, undefined);
    const [a, more] = answers(c.text);
    assert.equal(a!.status, 400);
    assert.equal((JSON.parse(a!.body) as { error: string }).error, 'bad_request');
    assert.equal(more, undefined, c.text);
  });

  test('a malformed chunked body after the handler began its answer: the connection is cut', async () => {
    const { port } = await serve((req, res) => {
      res.writeHead(200);
      res.write('started');
      req.readBody(1024).catch(() => {});
    });
    const c = await client(port);
    c.send('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
    await c.until((t) => t.includes('started'), 'the answer to begin');
    c.send('zz\r\n');
    await c.waitClosed();
    assert.equal(c.text.split('HTTP/1.1 ').length, 2, c.text);
  });

  test('a malformed body after a whole early answer: the connection ends gracefully, and a slow client still reads every answer', async () => {
    // A server that closes while the client is still sending makes the kernel answer the bytes with a
    // reset; the client's next write then fails, and its socket is destroyed with answers it has
    // received but not yet read: here the first one, whose request was carried out (RFC 9112, 9.6).
    // Found by the raw-socket fuzz test.
    const { port } = await serve((req, res) => {
      res.end(req.method === 'GET' ? 'first' : 'early');
    });
    const c = await client(port);
    c.send(`${get('/first')}POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n`);
    c.socket.pause(); // the client is busy: what arrives waits in its socket buffer
    for (const more of ['bytes the client', 'had queued']) {
      await sleep(100);
      c.send(more);
    }
    await sleep(100);
    c.socket.resume();
    await c.waitClosed();
    assert.deepEqual(
      answers(c.text).map((a) => [a.status, a.body]),
      [
        [200, 'first'],
        [200, 'early'],
      ],
    );
  });

  test('a connection that ends gracefully is closed after the keep-alive timeout if the client never closes it', async () => {
    const { port } = await serve(
      (_req, res) => {
        res.end('early');
      },
      { keepAliveTimeoutMs: 200 },
    );
    const c = new Client(port);
    // The client keeps its side open after the server's end (a half-open client), and keeps sending.
    c.socket.allowHalfOpen = true;
    await once(c.socket, 'connect');
    c.send('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    await c.until((t) => t.includes('early'), 'the early answer');
    const trickle = setInterval(() => c.socket.writable && c.send('x'), 50);
    try {
      await c.waitClosed(3_000);
    } finally {
      clearInterval(trickle);
    }
  });

  test('a malformed request after a good one on the same connection: the good one is answered, then 400', async () => {
    const { port } = await serve(echoUrl);
    const c = await client(port);
    c.send(`${get('/good')}GET /bad HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`);
    await c.waitClosed();
    const got = answers(c.text);
    assert.deepEqual(
      got.map((a) => [a.status, a.body.startsWith('{') ? 'json' : a.body]),
      [
        [200, '/good'],
        [400, 'json'],
      ],
    );
  });
});

describe('timeouts', () => {
  test('headersTimeoutMs: a client that sends half a head gets 408 and the close', async () => {
    let called = false;
    const { port } = await serve(
      () => {
        called = true;
      },
      { headersTimeoutMs: 200 },
    );
    const c = await client(port);
    const started = Date.now();
    c.send('GET / HTTP/1.1\r\nHost');
    await c.waitClosed();
    assert.ok(Date.now() - started >= 150, `closed after ${Date.now() - started} ms`);
    const [a] = answers(c.text);
    assert.equal(a!.status, 408);
    assert.equal(a!.headers.connection, 'close');
    assert.equal(called, false);
  });

  test('headersTimeoutMs counts from the first byte: a head that trickles in still times out', async () => {
    const { port } = await serve(() => {}, { headersTimeoutMs: 200 });
    const c = await client(port);
    const head = get('/', `X-Pad: ${'p'.repeat(200)}\r\n`);
    let i = 0;
    const timer = setInterval(() => {
      if (i < head.length && !c.isClosed) c.send(head[i++]!);
    }, 10);
    try {
      await c.waitClosed();
    } finally {
      clearInterval(timer);
    }
    assert.ok(i < head.length, 'the whole head was sent');
    assert.equal(answers(c.text)[0]!.status, 408);
  });

  test('requestTimeoutMs: a body that trickles in is cut off, and the handler learns it', async () => {
    const caught = later<unknown>();
    const closed = later<boolean>();
    const { port } = await serve(
      (req, res) => {
        res.on('close', () => closed.resolve(res.writableFinished));
        req.readBody(1024).catch(caught.resolve);
      },
      { headersTimeoutMs: 200, requestTimeoutMs: 400 },
    );
    const c = await client(port);
    c.send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n');
    const timer = setInterval(() => {
      if (!c.isClosed) c.send('x');
    }, 20);
    const started = Date.now();
    try {
      await c.waitClosed();
    } finally {
      clearInterval(timer);
    }
    assert.ok(Date.now() - started >= 300, `closed after ${Date.now() - started} ms`);
    assert.ok((await caught.promise) instanceof RequestAbortedError);
    assert.equal(await closed.promise, false);
    // The handler had not begun an answer, so the client learns why, as from node:http.
    const [a, more] = answers(c.text);
    assert.equal(a!.status, 408);
    assert.equal(a!.headers.connection, 'close');
    assert.equal(more, undefined);
  });

  test('requestTimeoutMs after the handler began its answer: the connection is cut, no second status', async () => {
    const { port } = await serve(
      (req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('started');
        req.readBody(1024).catch(() => {});
      },
      { headersTimeoutMs: 200, requestTimeoutMs: 400 },
    );
    const c = await client(port);
    c.send('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\nxx');
    await c.waitClosed();
    assert.match(c.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.equal(c.text.split('HTTP/1.1 ').length, 2, c.text);
  });

  test('keepAliveTimeoutMs: an idle connection is closed, one that never sent a byte too', async () => {
    const { port } = await serve(echoUrl, { keepAliveTimeoutMs: 200 });
    const used = await client(port);
    used.send(get());
    await used.responses(1);
    const answered = Date.now();
    const silent = await client(port);
    await Promise.all([used.waitClosed(), silent.waitClosed()]);
    assert.ok(Date.now() - answered >= 150, `closed after ${Date.now() - answered} ms`);
    assert.equal(answers(used.text).length, 1);
    assert.equal(silent.text, '');
  });

  test('keepAliveTimeoutMs counts from the end of the exchange, not from the end of the answer', async () => {
    const { port } = await serve(echoUrl, { keepAliveTimeoutMs: 400 });
    const c = await client(port);
    // Answered before the body arrives; the body then takes longer than the keep-alive timeout.
    c.send('POST /early HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n');
    await c.responses(1);
    await sleep(600);
    c.send('hello');
    await sleep(200);
    c.send(get('/next'));
    const got = await c.responses(2);
    assert.equal(got[1]!.body, '/next');
  });
});

describe('response events', () => {
  test("a client that goes away mid-answer: 'close' with writableFinished false", async () => {
    const closed = later<{ finished: boolean; ended: boolean }>();
    const { port } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      res.on('close', () => closed.resolve({ finished: res.writableFinished, ended: res.writableEnded }));
    });
    const c = await client(port);
    c.send(get());
    await c.until((t) => t.includes('data: 1'), 'the first event');
    c.socket.destroy();
    assert.deepEqual(await closed.promise, { finished: false, ended: false });
  });

  test("an answer that ends normally: 'close' with writableFinished true, the connection kept", async () => {
    const closed = later<boolean>();
    const { port } = await serve((_req, res) => {
      res.on('close', () => closed.resolve(res.writableFinished));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('a');
      res.end('b');
    });
    const c = await client(port);
    c.send(get());
    await c.responses(1);
    assert.equal(await closed.promise, true);
    assert.equal(c.isClosed, false);
  });

  test("backpressure: write() returns false while the client doesn't read, and 'drain' follows once it does", async () => {
    const piece = Buffer.alloc(4 * 1024, 'z');
    const state = { writes: 0, drained: false };
    const full = later<void>();
    const { port } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      // Bounded, so that a server that never pushes back fails the test instead of filling memory.
      while (state.writes < 65_536) {
        state.writes++;
        if (!res.write(piece)) break;
      }
      full.resolve();
      res.once('drain', () => {
        state.drained = true;
        res.end();
      });
    });
    const c = await client(port);
    c.socket.pause();
    c.send(get());
    await full.promise;
    assert.ok(state.writes > 1, 'write() returned false before the kernel buffers could fill');
    assert.ok(state.writes < 65_536, 'write() never returned false');
    await sleep(50);
    assert.equal(state.drained, false);
    c.socket.resume();
    await c.until((t) => t.endsWith('\r\n0\r\n\r\n'), 'the end of the answer', 10_000);
    assert.equal(state.drained, true);
    const [a] = answers(c.text);
    assert.equal(a!.body.length, state.writes * piece.length);
  });
});

describe('holding back the end', () => {
  /** A server whose handler answers with `answer` and hands the response back to the test. */
  async function held(answer: (res: OutboundResponse) => void) {
    const response = later<OutboundResponse>();
    const finished = later<boolean>();
    const { port } = await serve((_req, res) => {
      res.holdEnd();
      res.on('close', () => finished.resolve(res.writableFinished));
      answer(res);
      response.resolve(res);
    });
    const c = await client(port);
    c.send(get());
    return { c, res: await response.promise, finished: finished.promise };
  }

  test('a whole answer given to end() is not sent until releaseEnd()', async () => {
    const { c, res, finished } = await held((res) => res.end('{"a":1}'));
    await sleep(100);
    assert.equal(c.text, '');
    res.releaseEnd();
    const [a] = await c.responses(1);
    assert.equal(a!.body, '{"a":1}');
    assert.equal(a!.headers['content-length'], '7');
    assert.equal(await finished, true);
    res.releaseEnd();
    await sleep(20);
    assert.equal(answers(c.text).length, 1);
  });

  test('holds nest: the end goes out with the last release', async () => {
    const { c, res } = await held((res) => {
      res.holdEnd();
      res.end('{"a":1}');
    });
    res.releaseEnd();
    await sleep(100);
    assert.equal(c.text, '', 'one hold is left');
    res.releaseEnd();
    const [a] = await c.responses(1);
    assert.equal(a!.body, '{"a":1}');
  });

  test('with a Content-Length: the write that completes it waits for releaseEnd()', async () => {
    const { c, res } = await held((res) => {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 10 });
      res.write('hello');
      res.write('world');
      res.end();
    });
    await c.until((t) => t.endsWith('hello'), 'the first part');
    await sleep(100);
    assert.ok(c.text.endsWith('\r\n\r\nhello'), JSON.stringify(c.text));
    res.releaseEnd();
    const [a] = await c.responses(1);
    assert.equal(a!.body, 'helloworld');
  });

  test('chunked: what was written streams, the last chunk waits for releaseEnd()', async () => {
    const { c, res } = await held((res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('a');
      res.end('b');
    });
    await c.until((t) => t.endsWith('1\r\na\r\n'), 'the first chunk');
    await sleep(100);
    assert.ok(c.text.endsWith('\r\n\r\n1\r\na\r\n'), JSON.stringify(c.text));
    res.releaseEnd();
    const [a] = await c.responses(1);
    assert.equal(a!.body, 'ab');
  });

  test('the next request on the connection waits for the held end', async () => {
    const response = later<OutboundResponse>();
    const seen: string[] = [];
    const { port } = await serve((req, res) => {
      seen.push(req.url);
      if (req.url === '/held') {
        res.holdEnd();
        res.end('first');
        response.resolve(res);
      } else res.end('second');
    });
    const c = await client(port);
    c.send(get('/held') + get('/next'));
    const res = await response.promise;
    await sleep(50);
    assert.deepEqual(seen, ['/held']);
    res.releaseEnd();
    assert.deepEqual(
      (await c.responses(2)).map((a) => a.body),
      ['first', 'second'],
    );
  });
});

describe('shutting down', () => {
  test('close() closes idle connections now and busy ones after their answer, and refuses new ones', async () => {
    const pending = later<OutboundResponse>();
    const { server, port } = await serve(
      (req, res) => {
        if (req.url === '/slow') pending.resolve(res);
        else res.end('quick');
      },
      { keepAliveTimeoutMs: 30_000 },
    );
    const idle = await client(port);
    idle.send(get('/quick'));
    await idle.responses(1);
    const busy = await client(port);
    busy.send(get('/slow'));
    const res = await pending.promise;
    const serverClosed = new Promise<void>((r) => server.close(() => r()));
    await idle.waitClosed(2_000);
    assert.equal(busy.isClosed, false);
    const refused = new Client(port);
    await refused.closed;
    assert.equal(refused.text, '');
    res.end('late');
    await busy.waitClosed(2_000);
    const [a] = answers(busy.text);
    assert.equal(a!.body, 'late');
    assert.equal(a!.headers.connection, 'close');
    await serverClosed;
  });

  test('close(): an answer whose head was written before it still closes its connection after it', async () => {
    const pending = later<OutboundResponse>();
    const { server, port } = await serve(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 4 });
        pending.resolve(res);
      },
      { keepAliveTimeoutMs: 30_000 },
    );
    const c = await client(port);
    c.send(get());
    const res = await pending.promise;
    const serverClosed = new Promise<void>((r) => server.close(() => r()));
    res.end('late');
    await c.waitClosed(2_000);
    assert.equal(answers(c.text)[0]!.body, 'late');
    await serverClosed;
  });

  test('closeIdleConnections() closes only the idle ones', async () => {
    const pending = later<OutboundResponse>();
    const { server, port } = await serve((req, res) => {
      if (req.url === '/slow') pending.resolve(res);
      else res.end('quick');
    });
    const idle = await client(port);
    idle.send(get('/quick'));
    await idle.responses(1);
    const fresh = await client(port);
    const busy = await client(port);
    busy.send(get('/slow'));
    const res = await pending.promise;
    server.closeIdleConnections();
    await Promise.all([idle.waitClosed(2_000), fresh.waitClosed(2_000)]);
    assert.equal(busy.isClosed, false);
    res.end('still served');
    assert.equal((await busy.responses(1))[0]!.body, 'still served');
    busy.send(get('/quick'));
    assert.equal((await busy.responses(2))[1]!.body, 'quick');
  });

  test("closeAllConnections() cuts busy ones too: their answer emits 'close' unfinished", async () => {
    const pending = later<OutboundResponse>();
    const closed = later<boolean>();
    const { server, port } = await serve((_req, res) => {
      res.on('close', () => closed.resolve(res.writableFinished));
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('partial');
      pending.resolve(res);
    });
    const busy = await client(port);
    busy.send(get());
    await pending.promise;
    await busy.until((t) => t.includes('partial'), 'the first bytes');
    server.closeAllConnections();
    await busy.waitClosed(2_000);
    assert.equal(await closed.promise, false);
    assert.ok(!busy.text.endsWith('0\r\n\r\n'));
  });
});
