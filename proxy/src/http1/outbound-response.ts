/**
 * The answer to one request on the proxy's HTTP/1.1 server. It offers the part of `ServerResponse`'s
 * interface the proxy's writers use (`writeHead`, `write`, `end`, `flushHeaders`, `destroy`, the
 * `drain` and `close` events), and frames the body itself: a declared `Content-Length`, else chunked
 * (HTTP/1.1) or delimited by the close (HTTP/1.0); no body at all for HEAD, 204 and 304.
 *
 * The head is sent together with the first body bytes, and a whole answer given to `end()` goes out
 * in one socket write.
 *
 * It can also hold back its own end until the proxy has recorded the exchange's audit event
 * (`holdEnd()` / `releaseEnd()`), so that no client sees a complete answer whose event is not on the
 * spool yet: otherwise a SIGKILL between the last byte and the spool write loses an answered exchange.
 * Held back are the call to `end()` and, when a `Content-Length` is declared, the write that completes
 * it (where such a client sees the end). Everything before streams as usual.
 *
 * @module
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { CLOSE, DIGITS, FIELD_VALUE, TOKEN } from './header-fields.ts';
import { statusText } from './status-text.ts';

/** Header values as writers pass them: numbers are sent as decimals, lists as repeated fields. */
export type OutgoingHeaders = Record<string, string | number | readonly string[] | undefined>;

type Callback = (err?: Error | null) => void;

/** What a response needs from the connection it is sent on. */
export interface ResponseConnection {
  readonly socket: Socket;
  /** Whether the connection will close after this response (the server is shutting down, …). */
  closing(): boolean;
  /**
   * The `Keep-Alive` field's value for a response that keeps the connection (`timeout=5`), or ''. It
   * tells a client when an idle connection will be closed, so that it stops reusing it before: a request
   * sent just as the server closes would fail.
   */
  readonly keepAliveHint: string;
  /** The response's last bytes were handed to the socket; `close`: the connection must close after them. */
  responseEnded(close: boolean): void;
}

/** What the writers of an answer need: `OutboundResponse`, or a wrapper that stands in for it. */
export interface ResponseWriter {
  readonly headersSent: boolean;
  readonly statusCode: number;
  readonly destroyed: boolean;
  readonly writableEnded: boolean;
  readonly writableLength: number;
  writeHead(status: number, headers?: OutgoingHeaders): this;
  flushHeaders(): void;
  write(chunk: Uint8Array | string, callback?: Callback): boolean;
  end(chunk?: Uint8Array | string): this;
  destroy(): void;
  on(event: 'close' | 'drain', listener: () => void): this;
  once(event: 'close' | 'drain', listener: () => void): this;
  off(event: 'close' | 'drain', listener: () => void): this;
}

const CRLF = '\r\n';
const CRLF_BYTES = Buffer.from(CRLF, 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
/** Hop-by-hop fields the response frames itself; what a writer sets for them is not sent. */
const FRAMING = new Set(['connection', 'transfer-encoding', 'keep-alive', 'date']);

let dateSecond = 0;
let dateText = '';
/** The `Date` field's value, formatted at most once a second. */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(now).toUTCString();
  }
  return dateText;
}

/** A chunk as bytes: a string in `encoding` (a writer's second argument, when it is one), else as is. */
function toBuffer(chunk: Uint8Array | string, encoding: unknown): Buffer {
  if (typeof chunk === 'string')
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8');
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

export class OutboundResponse extends EventEmitter implements ResponseWriter {
  statusCode = 200;
  #conn: ResponseConnection;
  #headRequest: boolean;
  #http10: boolean;
  #keepAlive: boolean;
  /** The serialized head, until it goes out with the first body bytes. */
  #head: string | undefined = undefined;
  #headersSent = false;
  #framing: 'length' | 'chunked' | 'close' | 'none' = 'none';
  /** Body bytes still owed under a declared Content-Length. */
  #remaining = 0;
  #closeAfter = false;
  #ended = false;
  #finished = false;
  #closed = false;
  /** Holds on the end not yet released: it goes out when the last one is. */
  #holds = 0;
  #held: Buffer[] = [];
  #heldCallbacks: Callback[] = [];
  #endHeld = false;

  constructor(
    conn: ResponseConnection,
    request: { method: string; httpVersion: string; keepAlive: boolean },
  ) {
    super();
    this.#conn = conn;
    this.#headRequest = request.method === 'HEAD';
    this.#http10 = request.httpVersion === '1.0';
    this.#keepAlive = request.keepAlive;
  }

  get socket(): Socket {
    return this.#conn.socket;
  }
  get headersSent(): boolean {
    return this.#headersSent;
  }
  get destroyed(): boolean {
    return this.#closed || this.#conn.socket.destroyed;
  }
  get writableEnded(): boolean {
    return this.#ended;
  }
  get writableFinished(): boolean {
    return this.#finished;
  }
  get writableLength(): number {
    return this.#conn.socket.writableLength;
  }

  /**
   * Sets the status and the header fields. Framing fields (`Transfer-Encoding`, `Connection`,
   * `Keep-Alive`, `Date`) are the response's own; `Connection: close` is honoured.
   *
   * @throws TypeError on a name that is not a token or a value with CR, LF or NUL (header injection).
   */
  writeHead(status: number, headers?: OutgoingHeaders): this {
    if (this.#headersSent) throw new Error('the response head was already sent');
    if (!Number.isInteger(status) || status < 200 || status > 999)
      throw new RangeError(`invalid status code ${status}`);
    this.statusCode = status;
    let head = `HTTP/1.1 ${status} ${statusText(status)}${CRLF}`;
    let length: number | undefined;
    for (const name in headers) {
      const value = headers[name];
      if (value === undefined) continue;
      if (!TOKEN.test(name)) throw new TypeError(`invalid header name ${JSON.stringify(name)}`);
      const key = name.toLowerCase();
      if (FRAMING.has(key)) {
        if (key === 'connection' && CLOSE.test(String(value))) this.#closeAfter = true;
        continue;
      }
      for (const v of typeof value === 'object' ? value : [value]) {
        const text = typeof v === 'number' ? String(v) : v;
        if (!FIELD_VALUE.test(text)) throw new TypeError(`invalid value for header ${name}`);
        if (key === 'content-length') {
          if (!DIGITS.test(text) || (length !== undefined && Number(text) !== length))
            throw new TypeError(`invalid Content-Length ${JSON.stringify(text)}`);
          if (length !== undefined) continue;
          length = Number(text);
        }
        head += `${name}: ${text}${CRLF}`;
      }
    }
    const noBody = this.#headRequest || status === 204 || status === 304;
    if (noBody) this.#framing = 'none';
    else if (length !== undefined) {
      this.#framing = 'length';
      this.#remaining = length;
    } else if (this.#http10) {
      this.#framing = 'close';
      this.#closeAfter = true;
    } else {
      this.#framing = 'chunked';
      head += `transfer-encoding: chunked${CRLF}`;
    }
    if (!this.#keepAlive || this.#conn.closing()) this.#closeAfter = true;
    if (this.#closeAfter) head += `connection: close${CRLF}`;
    else {
      if (this.#http10) head += `connection: keep-alive${CRLF}`;
      if (this.#conn.keepAliveHint) head += `keep-alive: ${this.#conn.keepAliveHint}${CRLF}`;
    }
    this.#head = `${head}date: ${httpDate()}${CRLF}${CRLF}`;
    this.#headersSent = true;
    return this;
  }

  /** Sends the head now, before any body (an event stream's client sees it open at once). */
  flushHeaders(): void {
    if (!this.#headersSent) this.writeHead(this.statusCode);
    if (this.#head === undefined || this.destroyed) return;
    const head = this.#head;
    this.#head = undefined;
    this.#conn.socket.write(head, 'latin1');
  }

  /**
   * From now on, the response's end waits for `releaseEnd()`. Holds nest: the end waits for as many
   * releases as there were holds.
   */
  holdEnd(): void {
    this.#holds++;
  }

  /** Releases one hold; the last sends what was held back, and ends the response if its writer ended it. */
  releaseEnd(): void {
    if (this.#holds === 0 || --this.#holds > 0) return;
    const held = this.#held;
    const callbacks = this.#heldCallbacks;
    this.#held = [];
    this.#heldCallbacks = [];
    const chunk = held.length === 0 ? undefined : held.length === 1 ? held[0]! : Buffer.concat(held);
    if (this.#endHeld) this.#finish(chunk, callbacks);
    else if (chunk) this.#send(chunk, false, callbacks);
  }

  write(
    chunk: Uint8Array | string,
    encodingOrCallback?: BufferEncoding | Callback,
    callback?: Callback,
  ): boolean {
    const cb = typeof encodingOrCallback === 'function' ? encodingOrCallback : callback;
    if (this.#ended) {
      const err = new Error('write after end');
      if (cb) process.nextTick(cb, err);
      return false;
    }
    if (!this.#headersSent) this.writeHead(this.statusCode);
    const buf = toBuffer(chunk, encodingOrCallback);
    if (
      this.#holds > 0 &&
      (this.#held.length > 0 || (this.#framing === 'length' && buf.length >= this.#remaining))
    ) {
      this.#held.push(buf);
      if (cb) this.#heldCallbacks.push(cb);
      return true;
    }
    return this.#send(buf, false, cb ? [cb] : []);
  }

  end(chunk?: Uint8Array | string | Callback, encodingOrCallback?: BufferEncoding | Callback): this {
    if (this.#ended || this.#endHeld) return this;
    if (typeof chunk === 'function') chunk = undefined;
    const buf = chunk === undefined ? undefined : toBuffer(chunk, encodingOrCallback);
    // A whole answer in one call: its length is known, so it needs no chunked framing.
    if (!this.#headersSent) this.writeHead(this.statusCode, { 'content-length': buf?.length ?? 0 });
    if (this.#holds > 0) {
      if (buf) this.#held.push(buf);
      this.#endHeld = true;
      return this;
    }
    this.#finish(buf, []);
    return this;
  }

  /** Closes the connection at once: the client sees the answer cut short. */
  destroy(): void {
    this.#conn.socket.destroy();
  }

  /** @internal The connection closed; tells the writers, unless the response had already finished. */
  connectionClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.emit('close');
  }

  /** @internal The socket drained. */
  drained(): void {
    this.emit('drain');
  }

  #finish(buf: Buffer | undefined, callbacks: Callback[]): void {
    this.#ended = true;
    this.#endHeld = false;
    // A body shorter than its Content-Length leaves the client waiting for bytes that never come.
    if (this.#framing === 'length' && (buf?.length ?? 0) < this.#remaining) this.#closeAfter = true;
    if (this.#framing === 'close') this.#closeAfter = true;
    this.#send(buf, true, callbacks);
    this.#conn.responseEnded(this.#closeAfter);
  }

  /** Frames and writes body bytes (and the head, if still pending), in one socket write. */
  #send(buf: Buffer | undefined, last: boolean, callbacks: Callback[]): boolean {
    const socket = this.#conn.socket;
    let body = buf;
    if (body && this.#framing === 'none') body = undefined;
    if (body && this.#framing === 'length') {
      if (body.length > this.#remaining) body = body.subarray(0, this.#remaining);
      this.#remaining -= body.length;
    }
    const parts: Buffer[] = [];
    let size = 0;
    const head = this.#head;
    this.#head = undefined;
    let prefix = head ?? '';
    if (body && body.length > 0 && this.#framing === 'chunked')
      prefix += `${body.length.toString(16)}${CRLF}`;
    if (prefix) {
      const p = Buffer.from(prefix, 'latin1');
      parts.push(p);
      size += p.length;
    }
    if (body && body.length > 0) {
      parts.push(body);
      size += body.length;
      if (this.#framing === 'chunked') {
        parts.push(CRLF_BYTES);
        size += 2;
      }
    }
    if (last && this.#framing === 'chunked') {
      parts.push(LAST_CHUNK);
      size += LAST_CHUNK.length;
    }
    const done =
      callbacks.length > 0 || last
        ? (err?: Error | null) => {
            for (const cb of callbacks) cb(err);
            if (last && !err) this.#finished = true;
            if (last) this.connectionClosed();
          }
        : undefined;
    if (socket.destroyed || size === 0) {
      if (done) process.nextTick(done, socket.destroyed ? new Error('the connection is closed') : null);
      return !socket.destroyed;
    }
    const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
    return done ? socket.write(out, done) : socket.write(out);
  }
}
