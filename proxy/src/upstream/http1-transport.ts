/**
 * The sidecar's transport: a keep-alive HTTP/1.1 client over `node:net` to the MCP server beside it on
 * loopback. One request at a time per connection, each written with a single `write`; responses are
 * read by the strict parser in `http1-response-parser.ts`. It replaces `node:http`'s client on this
 * path because that client (the `ClientRequest`, the agent's bookkeeping, an `IncomingMessage` per
 * answer) was the largest allocator and the largest block of Node code in the proxy's profiles.
 *
 * @module
 */
import { connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { FIELD_VALUE, TOKEN } from '../http1/header-fields.ts';
import { ResponseParser } from './http1-response-parser.ts';
import type { UpstreamRequest, UpstreamResponse, UpstreamTransport } from './upstream-transport.ts';

export interface Http1TransportOptions {
  /** An `http:` URL; only its host and port are used. */
  url: URL;
  /** Connections kept to the upstream at most; further requests wait for one to free up. */
  connections: number;
  /**
   * Upper bound from a request to its response head, a wait for a free connection included; a body
   * (SSE) may then stream for as long as it needs.
   */
  headersTimeoutMs: number;
}

function headersTimeout(ms: number): Error {
  return Object.assign(new Error(`no response head in ${ms} ms`), { code: 'UPSTREAM_HEADERS_TIMEOUT' });
}

function abortError(): Error {
  return Object.assign(new Error('the request was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
}

/** One exchange on a connection: from the write of the request to the end of the response body. */
interface Exchange {
  resolve(response: UpstreamResponse): void;
  reject(err: Error): void;
  parser: ResponseParser;
  body: Readable | undefined;
  deadline: number;
  signal: AbortSignal;
  onAbort: () => void;
}

interface Waiter {
  /** When the request gives up: the same moment its response head would be late. */
  deadline: number;
  retry(): void;
  expire(): void;
}

interface Connection {
  socket: Socket;
  exchange: Exchange | undefined;
}

/** The request head, checked as `node:http` checks it: a header that could split the request is refused. */
function requestHead(r: UpstreamRequest, host: string): string {
  if (!TOKEN.test(r.method)) throw new TypeError(`invalid method ${JSON.stringify(r.method)}`);
  if (!/^\/[\x21-\x7e]*$/.test(r.path)) throw new TypeError('invalid request path');
  let head = `${r.method} ${r.path} HTTP/1.1\r\nhost: ${host}\r\n`;
  for (const name in r.headers) {
    const value = r.headers[name]!;
    const lower = name.toLowerCase();
    if (
      lower === 'host' ||
      lower === 'content-length' ||
      lower === 'transfer-encoding' ||
      lower === 'connection'
    )
      continue;
    if (!TOKEN.test(name) || !FIELD_VALUE.test(value))
      throw Object.assign(new TypeError(`invalid request header ${JSON.stringify(name)}`), {
        code: 'ERR_INVALID_CHAR',
      });
    head += `${name}: ${value}\r\n`;
  }
  if (r.body || r.method === 'POST') head += `content-length: ${r.body?.length ?? 0}\r\n`;
  return `${head}\r\n`;
}

export function createHttp1Transport(options: Http1TransportOptions): UpstreamTransport {
  if (options.url.protocol !== 'http:') throw new TypeError('the HTTP/1.1 transport speaks plain http only');
  const hostname = options.url.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = Number(options.url.port || 80);
  const hostHeader = options.url.host;
  const max = options.connections;
  const ms = options.headersTimeoutMs;
  // LIFO keeps the hot connections hot and lets the idle ones time out at the server.
  const idle: Connection[] = [];
  /** Requests waiting for a connection when all `max` are busy (long GET streams can hold them). */
  const waiting: Waiter[] = [];
  let open = 0;
  let closed = false;

  // One sweep over the exchanges still waiting for their head, instead of a timer per request.
  const awaitingHead = new Set<Connection>();
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    const now = Date.now();
    for (const c of awaitingHead) if (c.exchange && c.exchange.deadline <= now) fail(c, headersTimeout(ms));
    // The wait for a free connection counts against the same deadline: a pool held by streams must
    // not leave requests queued forever.
    for (let i = waiting.length - 1; i >= 0; i--) {
      if (waiting[i]!.deadline <= now) waiting.splice(i, 1)[0]!.expire();
    }
    if (awaitingHead.size === 0 && waiting.length === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  const startSweeping = () => {
    if (!sweeper) {
      sweeper = setInterval(sweep, Math.max(10, Math.min(1_000, ms / 4)));
      sweeper.unref();
    }
  };

  /** Ends a connection's exchange with an error and closes the connection. */
  function fail(c: Connection, err: Error): void {
    const x = c.exchange;
    c.exchange = undefined;
    awaitingHead.delete(c);
    c.socket.destroy();
    if (!x) return;
    x.signal.removeEventListener('abort', x.onAbort);
    if (x.body) x.body.destroy(err);
    else x.reject(err);
  }

  function release(c: Connection, reusable: boolean): void {
    c.exchange = undefined;
    if (!reusable || closed || c.socket.destroyed) {
      c.socket.destroy();
      return;
    }
    // Paused by a slow reader of the last body, which has all its bytes now.
    c.socket.resume();
    idle.push(c);
    waiting.shift()?.retry();
  }

  function connection(): Connection {
    open++;
    const socket = connect({ host: hostname, port, noDelay: true });
    const c: Connection = { socket, exchange: undefined };
    socket.on('data', (data: Buffer) => {
      const x = c.exchange;
      if (!x) {
        // Bytes on an idle connection: the upstream broke the protocol, or is closing it.
        socket.destroy();
        return;
      }
      let rest: Buffer | undefined;
      try {
        rest = x.parser.feed(data);
      } catch (err) {
        fail(c, err as Error);
        return;
      }
      if (x.parser.done && c.exchange === x) finishExchange(c, x, rest === undefined || rest.length === 0);
    });
    socket.on('end', () => {
      const x = c.exchange;
      if (!x) return;
      try {
        x.parser.end();
      } catch (err) {
        fail(c, err as Error);
        return;
      }
      if (c.exchange === x) finishExchange(c, x, false);
    });
    socket.on('error', (err) => fail(c, err));
    socket.on('close', () => {
      open--;
      const i = idle.indexOf(c);
      if (i !== -1) idle.splice(i, 1);
      if (c.exchange)
        fail(c, Object.assign(new Error('the upstream closed the connection'), { code: 'ECONNRESET' }));
      // A slot freed up: a waiting request may open a connection of its own.
      waiting.shift()?.retry();
    });
    return c;
  }

  function finishExchange(c: Connection, x: Exchange, clean: boolean): void {
    x.signal.removeEventListener('abort', x.onAbort);
    release(c, clean && x.parser.keepAlive);
  }

  /** A connection for one exchange: an idle one, a new one, or the next one to free up in time. */
  function acquire(signal: AbortSignal, deadline: number): Promise<Connection> {
    if (closed)
      return Promise.reject(Object.assign(new Error('the transport is closed'), { code: 'ECONNREFUSED' }));
    for (;;) {
      const c = idle.pop();
      if (!c) break;
      if (!c.socket.destroyed) return Promise.resolve(c);
    }
    if (open < max) return Promise.resolve(connection());
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = waiting.indexOf(waiter);
        if (i !== -1) waiting.splice(i, 1);
        reject(abortError());
      };
      const waiter: Waiter = {
        deadline,
        retry: () => {
          signal.removeEventListener('abort', onAbort);
          acquire(signal, deadline).then(resolve, reject);
        },
        expire: () => {
          signal.removeEventListener('abort', onAbort);
          reject(headersTimeout(ms));
        },
      };
      signal.addEventListener('abort', onAbort, { once: true });
      waiting.push(waiter);
      startSweeping();
    });
  }

  return {
    async request(r: UpstreamRequest): Promise<UpstreamResponse> {
      if (r.signal.aborted) throw abortError();
      const head = Buffer.from(requestHead(r, hostHeader), 'latin1');
      const deadline = Date.now() + ms;
      const c = await acquire(r.signal, deadline);
      return new Promise<UpstreamResponse>((resolve, reject) => {
        const x: Exchange = {
          resolve,
          reject,
          body: undefined,
          deadline,
          signal: r.signal,
          onAbort: () => fail(c, abortError()),
          parser: new ResponseParser({
            head(h) {
              awaitingHead.delete(c);
              const body = new Readable({
                // The client's pace: the connection is paused while the reader's buffer is full.
                read: () => c.socket.resume(),
                destroy: (err, cb) => {
                  // A reader that stops early leaves a connection in an unknown state.
                  if (c.exchange === x && !x.parser.done) fail(c, err ?? abortError());
                  cb(err);
                },
              });
              // A body failed after its reader has gone (a client that left first) must not crash the
              // proxy: readers that are still there see the error through their own listeners.
              body.on('error', () => {});
              x.body = body;
              resolve({ statusCode: h.statusCode, headers: h.headers, body });
            },
            body(chunk) {
              if (!x.body!.push(chunk)) c.socket.pause();
            },
            end() {
              x.body!.push(null);
            },
          }),
        };
        if (r.signal.aborted) {
          release(c, true);
          reject(abortError());
          return;
        }
        c.exchange = x;
        r.signal.addEventListener('abort', x.onAbort, { once: true });
        awaitingHead.add(c);
        startSweeping();
        c.socket.write(r.body ? Buffer.concat([head, r.body]) : head);
      });
    },
    async close() {
      closed = true;
      clearInterval(sweeper);
      for (const c of idle.splice(0)) c.socket.destroy();
      for (const waiter of waiting.splice(0)) waiter.retry();
    },
  };
}
