/**
 * The proxy's inbound HTTP/1.1 server, on `node:net`. `node:http`'s server costs a readable stream,
 * a writable stream and their bookkeeping per request; on a sidecar answering small JSON-RPC calls that
 * was about a third of its CPU time. This server parses strictly (`request-parser.ts`), buffers small
 * bodies whole, and writes each answer in one system call.
 *
 * What it does, as `node:http` did for the proxy:
 * - keep-alive and pipelining: requests on a connection are answered in order, one at a time;
 * - `Expect: 100-continue` is answered at once; other expectations get 417;
 * - a malformed request gets a 4xx/5xx answer (400, 408, 431, 501, 505) and the connection closes,
 *   gracefully: the server ends its side and drops what still comes until the client ends its own;
 * - `headersTimeoutMs` bounds the time to receive a request's head, `requestTimeoutMs` the whole
 *   request, `keepAliveTimeoutMs` an idle connection between requests; they are checked by one timer
 *   for all connections, not one per request;
 * - `close()` stops accepting; `closeIdleConnections()` / `closeAllConnections()` end the rest.
 *
 * Each request is emitted as `request` (`InboundRequest`, `OutboundResponse`).
 *
 * @module
 */
import { Server, type Socket } from 'node:net';
import { InboundRequest } from './inbound-request.ts';
import { OutboundResponse, type ResponseConnection } from './outbound-response.ts';
import { type RequestHead, RequestParseError, RequestParser, type RequestSink } from './request-parser.ts';
import { statusText } from './status-text.ts';

export interface Http1ServerOptions {
  /** Largest request head (request line and fields); larger gets 431. Default 16 KiB. */
  maxHeadBytes?: number;
  /** Most body bytes buffered for a request before its handler reads it. Default 4 MiB. */
  maxBodyBytes?: number;
  /** Time to receive a request's head, from its first byte. Default 30 s. */
  headersTimeoutMs?: number;
  /** Time to receive a whole request, from its first byte. Default 120 s. */
  requestTimeoutMs?: number;
  /** Time an idle connection is kept between requests. Default 5 s. */
  keepAliveTimeoutMs?: number;
}

export type RequestListener = (req: InboundRequest, res: OutboundResponse) => void;

/** Bytes of pipelined requests held while the one before is answered, before reading pauses. */
const MAX_STASH = 64 * 1024;
const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');

class Connection implements RequestSink, ResponseConnection {
  readonly socket: Socket;
  readonly #server: Http1Server;
  #parser: RequestParser | undefined = undefined;
  /** When the request being received sent its first byte. */
  #startedAt = 0;
  /** When the connection last finished an exchange (for the keep-alive timeout). */
  idleSince = Date.now();
  /** When the server ended its side (`#endGracefully`): the client has the keep-alive timeout to end its own. */
  closingSince: number | undefined = undefined;
  #request: InboundRequest | undefined = undefined;
  #response: OutboundResponse | undefined = undefined;
  #responseEnded = true;
  #requestDone = true;
  /** Bytes of the next request(s), waiting for the current response to end. */
  #stash: Buffer | undefined = undefined;
  #closing = false;
  #consuming = false;

  constructor(server: Http1Server, socket: Socket) {
    this.#server = server;
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (data: Buffer) => this.#onData(data));
    socket.on('drain', () => this.#response?.drained());
    socket.on('end', () => this.#onEnd());
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose());
  }

  /** Whether no exchange is in progress and no request has begun arriving. */
  get idle(): boolean {
    return (
      this.#responseEnded &&
      this.#requestDone &&
      !this.#stash &&
      (this.#parser === undefined || !this.#parser.hasBytes)
    );
  }

  get keepAliveHint(): string {
    return this.#server.keepAliveHint;
  }

  closing(): boolean {
    return this.#closing || this.#server.shuttingDown;
  }

  /** Closes the connection if a deadline has passed. */
  sweep(now: number, o: Required<Http1ServerOptions>): void {
    if (this.socket.destroyed) return;
    if (this.closingSince !== undefined) {
      if (now - this.closingSince > o.keepAliveTimeoutMs) this.socket.destroy();
      return;
    }
    if (this.idle) {
      if (now - this.idleSince > o.keepAliveTimeoutMs) this.socket.destroy();
      return;
    }
    const parser = this.#parser;
    if (!parser) return;
    const age = now - this.#startedAt;
    if ((!parser.started && age > o.headersTimeoutMs) || age > o.requestTimeoutMs) {
      this.#refuseOrCut(408, 'the request was not received in time');
    }
  }

  // RequestSink: called by the parser.
  head(head: RequestHead): void {
    const req = new InboundRequest(head, this.#server.maxBodyBytes);
    const res = new OutboundResponse(this, head);
    this.#request = req;
    this.#response = res;
    this.#responseEnded = false;
    this.#requestDone = false;
    if (head.expectContinue) this.socket.write(CONTINUE);
    this.#server.emit('request', req, res);
  }

  body(chunk: Buffer): void {
    this.#request?.pushBody(chunk);
  }

  end(): void {
    this.#requestDone = true;
    // An answer sent before the body's end: the connection is idle from now, not from the answer.
    if (this.#responseEnded) this.idleSince = Date.now();
    this.#request?.endBody();
  }

  // ResponseConnection: called by the response.
  responseEnded(close: boolean): void {
    this.#responseEnded = true;
    this.idleSince = Date.now();
    if (close || this.closing()) {
      // The answer goes out first; a request still arriving is not parsed any further.
      this.#endGracefully();
      return;
    }
    if (!this.#requestDone) return; // The rest of the body arrives, then the next request.
    this.#next();
  }

  /** The current exchange is over: goes on with the pipelined bytes, if any. */
  #next(): void {
    this.#request = undefined;
    const stash = this.#stash;
    this.#stash = undefined;
    if (!stash) {
      if (this.socket.isPaused()) this.socket.resume();
      return;
    }
    if (this.#consuming) {
      this.#stash = stash;
      return;
    }
    // The stashed bytes came first: they are parsed before reading resumes, or the order breaks.
    process.nextTick(() => {
      this.#consume(stash);
      if (this.socket.isPaused() && (this.#stash?.length ?? 0) <= MAX_STASH) this.socket.resume();
    });
  }

  #onData(data: Buffer): void {
    if (this.#closing) return;
    if (!this.#responseEnded && this.#requestDone) {
      // A pipelined request waits until the answer before it has gone out.
      this.#stash = this.#stash ? Buffer.concat([this.#stash, data]) : data;
      if (this.#stash.length > MAX_STASH) this.socket.pause();
      return;
    }
    this.#consume(data);
  }

  #consume(data: Buffer): void {
    this.#consuming = true;
    try {
      let buf: Buffer | undefined = data;
      while (buf !== undefined && buf.length > 0 && !this.#closing) {
        if (!this.#parser) {
          this.#parser = new RequestParser(this, this.#server.maxHeadBytes);
          this.#startedAt = Date.now();
        }
        buf = this.#parser.feed(buf);
        if (!this.#parser.done) break;
        this.#parser = undefined;
        if (!this.#responseEnded) {
          // The handler is still answering: what follows is the next request, which waits for it.
          if (buf !== undefined && buf.length > 0) this.#stash = buf;
          break;
        }
        this.#request = undefined;
      }
    } catch (err) {
      if (!(err instanceof RequestParseError)) {
        this.socket.destroy();
        throw err;
      }
      this.#refuseOrCut(err.status, err.message);
    } finally {
      this.#consuming = false;
    }
    if (this.#stash && this.#responseEnded && this.#requestDone && !this.#closing) {
      const stash = this.#stash;
      this.#stash = undefined;
      this.#consume(stash);
    }
  }

  /**
   * Refuses the request being received (timed out, or its body malformed). Between requests, or while
   * its handler has not begun an answer, it gets the error status, as with `node:http`: the handler's
   * body read fails with `RequestAbortedError`, and what it writes later goes nowhere. After a whole
   * answer the connection ends as after any last one; during an answer, it is cut.
   */
  #refuseOrCut(status: number, message: string): void {
    // Whichever way, nothing more of the request is parsed, and a read of its body fails.
    this.#parser = undefined;
    this.#request?.abort();
    const unanswered = this.#requestDone ? this.#responseEnded : !this.#response?.headersSent;
    if (unanswered) this.#refuse(status, message);
    else if (this.#responseEnded) this.#endGracefully();
    else this.socket.destroy();
  }

  /** Answers a request the server itself refuses, and closes the connection. */
  #refuse(status: number, message: string): void {
    const body = JSON.stringify({
      error: statusText(status).toLowerCase().replaceAll(' ', '_'),
      error_description: message,
    });
    this.#endGracefully(
      `HTTP/1.1 ${status} ${statusText(status)}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  /**
   * Sends `last` and closes the writing side only, then reads and drops what the client still sends
   * until it closes its side (RFC 9112, 9.6). Closing outright while the client is still sending makes
   * the kernel answer its bytes with a reset, and the client can lose answers it has received but not
   * yet read, such as the one before, whose request was carried out. A client that never closes its
   * side is cut after the keep-alive timeout (`sweep`).
   */
  #endGracefully(last?: string): void {
    this.#closing = true;
    this.#stash = undefined;
    this.closingSince ??= Date.now();
    if (this.socket.isPaused()) this.socket.resume();
    if (last === undefined) this.socket.end();
    else this.socket.end(last, 'utf8');
  }

  #onEnd(): void {
    // The client will send nothing more, and takes that to mean it has gone, as node:http does: the
    // request is abandoned and the socket (not half-open) closes, which tells the response's writers.
    this.#closing = true;
    this.#request?.abort();
  }

  #onClose(): void {
    this.#closing = true;
    this.#server.forget(this);
    this.#request?.abort();
    if (!this.#responseEnded) this.#response?.connectionClosed();
  }
}

export class Http1Server extends Server {
  readonly maxHeadBytes: number;
  readonly maxBodyBytes: number;
  /** @internal */
  readonly keepAliveHint: string;
  readonly #options: Required<Http1ServerOptions>;
  readonly #connections = new Set<Connection>();
  #sweeper: NodeJS.Timeout | undefined = undefined;
  shuttingDown = false;

  constructor(options: Http1ServerOptions = {}, listener?: RequestListener) {
    super({ allowHalfOpen: false, noDelay: true });
    this.#options = {
      maxHeadBytes: options.maxHeadBytes ?? 16 * 1024,
      maxBodyBytes: options.maxBodyBytes ?? 4 * 1024 * 1024,
      headersTimeoutMs: options.headersTimeoutMs ?? 30_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 120_000,
      keepAliveTimeoutMs: options.keepAliveTimeoutMs ?? 5_000,
    };
    this.maxHeadBytes = this.#options.maxHeadBytes;
    this.maxBodyBytes = this.#options.maxBodyBytes;
    // Whole seconds, as clients read it (RFC 9112 leaves the field to implementations; node:http sends the same).
    const seconds = Math.floor(this.#options.keepAliveTimeoutMs / 1000);
    this.keepAliveHint = seconds > 0 ? `timeout=${seconds}` : '';
    if (listener) this.on('request', listener);
    this.on('connection', (socket: Socket) => {
      if (this.shuttingDown) {
        socket.destroy();
        return;
      }
      this.#connections.add(new Connection(this, socket));
      this.#sweeper ??= this.#startSweeper();
    });
  }

  /** Stops accepting connections; idle ones close now, busy ones after their answer. */
  override close(callback?: (err?: Error) => void): this {
    this.shuttingDown = true;
    super.close(callback);
    this.closeIdleConnections();
    return this;
  }

  closeIdleConnections(): void {
    for (const c of this.#connections) if (c.idle) c.socket.destroy();
  }

  closeAllConnections(): void {
    for (const c of this.#connections) c.socket.destroy();
  }

  /** @internal */
  forget(connection: Connection): void {
    this.#connections.delete(connection);
    if (this.#connections.size === 0 && this.#sweeper) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
    }
  }

  #startSweeper(): NodeJS.Timeout {
    const o = this.#options;
    const every = Math.max(10, Math.min(1_000, o.headersTimeoutMs / 4, o.keepAliveTimeoutMs / 4));
    const timer = setInterval(() => {
      const now = Date.now();
      for (const c of this.#connections) c.sweep(now, o);
    }, every);
    timer.unref();
    return timer;
  }
}

/** A server that calls `listener` for every request. */
export function createHttp1Server(options: Http1ServerOptions, listener: RequestListener): Http1Server {
  return new Http1Server(options, listener);
}
