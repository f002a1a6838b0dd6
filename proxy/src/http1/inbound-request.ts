/**
 * A request as the proxy's HTTP/1.1 server hands it to the handler: the parsed head, and a body that
 * is buffered as it arrives (up to the server's limit) until the handler asks for it. The handler
 * usually authenticates before reading the body, so bytes that arrive first must wait somewhere; a
 * streaming interface would cost a stream per request for bodies that nearly always fit one read.
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHead } from './request-parser.ts';

/** The body is larger than the limit it was read with. */
export class PayloadTooLargeError extends Error {
  readonly limit: number;
  constructor(limit: number) {
    super(`the request body exceeds ${limit} bytes`);
    this.limit = limit;
  }
}

/** The client closed the connection before the body was complete. */
export class RequestAbortedError extends Error {
  readonly code = 'ECONNRESET';
  constructor() {
    super('the client closed the connection before the body was complete');
  }
}

const EMPTY = Buffer.alloc(0);

export class InboundRequest {
  readonly method: string;
  /** The path and query. */
  readonly url: string;
  readonly httpVersion: '1.0' | '1.1';
  /**
   * Lower-case names; repeated fields joined with ", " (`set-cookie`: a list). Typed as Node's, which
   * have the same shape; mutable, as Node's are.
   */
  readonly headers: IncomingHttpHeaders;
  #chunks: Buffer[] = [];
  #size = 0;
  #limit: number;
  #state: 'reading' | 'complete' | 'too-large' | 'discarding' | 'aborted' = 'reading';
  #waiter: { resolve: (body: Buffer) => void; reject: (err: Error) => void } | undefined = undefined;
  /** `discardBody()` was called: chunks are counted against the limit, never kept. */
  #discard = false;

  /** `maxBodyBytes`: the most the server buffers before anyone asks for the body. */
  constructor(head: RequestHead, maxBodyBytes: number) {
    this.method = head.method;
    this.url = head.url;
    this.httpVersion = head.httpVersion;
    this.headers = head.headers as IncomingHttpHeaders;
    this.#limit = maxBodyBytes;
  }

  /** Whether the whole body has been received (or discarded). */
  get complete(): boolean {
    return this.#state === 'complete' || this.#state === 'discarding';
  }

  /**
   * The whole body, once it has arrived.
   *
   * @throws PayloadTooLargeError when it declares or reaches more than `limit` bytes (the rest is
   *   discarded as it arrives, so that an answer can still reach the client).
   * @throws RequestAbortedError when the client goes away first.
   */
  readBody(limit: number): Promise<Buffer> {
    if (this.#waiter) return Promise.reject(new Error('the body is already being read'));
    const declared = this.headers['content-length'];
    if (limit < this.#limit) this.#limit = limit;
    if ((typeof declared === 'string' && Number(declared) > limit) || this.#size > limit) {
      this.#overflow();
      return Promise.reject(new PayloadTooLargeError(limit));
    }
    switch (this.#state) {
      case 'complete':
        return Promise.resolve(this.#take());
      case 'too-large':
        return Promise.reject(new PayloadTooLargeError(limit));
      case 'aborted':
        return Promise.reject(new RequestAbortedError());
      case 'discarding':
        return Promise.resolve(Buffer.alloc(0));
    }
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  /**
   * Throws the body away as it arrives, and resolves at its end: for a handler that has no use for the
   * body but must not act on a request whose body the server then refuses (malformed framing, a
   * timeout), which it answers itself.
   *
   * @throws PayloadTooLargeError when it declares or reaches more than the server's limit.
   * @throws RequestAbortedError when the client goes away, or the server refuses the body, first.
   */
  async discardBody(): Promise<void> {
    this.#discard = true;
    this.#chunks = [];
    await this.readBody(this.#limit);
  }

  /** Throws the body away, as it arrives: the handler answers without it. */
  resume(): void {
    this.#chunks = [];
    if (this.#state === 'reading' || this.#state === 'complete') this.#state = 'discarding';
  }

  /** @internal A body chunk from the parser. */
  pushBody(chunk: Buffer): void {
    if (this.#state !== 'reading') return;
    this.#size += chunk.length;
    if (this.#size > this.#limit) {
      this.#overflow();
      return;
    }
    if (!this.#discard) this.#chunks.push(chunk);
  }

  /** @internal The body's end, from the parser. */
  endBody(): void {
    if (this.#state === 'reading') {
      this.#state = 'complete';
      const w = this.#waiter;
      this.#waiter = undefined;
      w?.resolve(this.#take());
    }
  }

  /** @internal The connection closed before the body's end. */
  abort(): void {
    if (this.#state !== 'reading') return;
    this.#state = 'aborted';
    this.#chunks = [];
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(new RequestAbortedError());
  }

  #overflow(): void {
    if (this.#state !== 'reading' && this.#state !== 'complete') return;
    const wasReading = this.#state === 'reading';
    this.#state = wasReading ? 'too-large' : 'discarding';
    this.#chunks = [];
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.reject(new PayloadTooLargeError(this.#limit));
  }

  #take(): Buffer {
    if (this.#discard) return EMPTY;
    const chunks = this.#chunks;
    this.#chunks = [];
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.#size);
  }
}
