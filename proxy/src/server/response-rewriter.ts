/**
 * Stands between an upstream and the client's `ResponseWriter` when the proxy must see or change the
 * answer to one request: list filtering, response filters, audit body capture. Upstreams write to it
 * exactly as to a `ResponseWriter` (the subset they use), so no upstream kind needs to know.
 *
 * - `application/json` answers with a rewrite are held whole (up to a cap), rewritten, and sent with a
 *   fresh `Content-Length`. Too large or unparseable → a JSON-RPC error (fail closed).
 * - `text/event-stream` answers keep streaming: every event passes through as it arrives, except the
 *   one event that answers the request, which is rewritten before it is sent (later events wait, so
 *   order is kept), and the server messages `drop` leaves out: of those only the `id:` (and `retry:`)
 *   lines go out, so that a client resuming with `Last-Event-ID` resumes after them.
 * - Anything else, or no rewrite at all, passes through, with at most `captureBytes` copied aside.
 *
 * @module
 */
import type { OutgoingHeaders, ResponseWriter } from '../http1/outbound-response.ts';
import { errorBody, type JsonRpcId } from './jsonrpc.ts';

/** Rewrites the JSON-RPC response to the request; may answer an error response instead. */
export type Rewrite = (response: Record<string, unknown>) => Promise<Record<string, unknown>>;

export interface RewriterOptions {
  id: JsonRpcId | undefined;
  rewrite: Rewrite | undefined;
  /** Raw response bytes copied aside for the audit (0: none). */
  captureBytes: number;
  /** Largest JSON answer held for a rewrite. */
  maxHeldBytes?: number;
  /** The JSON-RPC error sent when an answer cannot be rewritten. */
  failure: { code: number; message: string };
  /** Rewrite event-stream answers only; JSON ones pass through (the upstream checked them already). */
  eventStreamOnly?: boolean;
  /** Server messages on an event stream that the client must not see (never the request's answer). */
  drop?: (message: Record<string, unknown>) => boolean;
}

const DEFAULT_MAX_HELD = 16 * 1024 * 1024;
const SETTLED: Promise<void> = Promise.resolve();

/**
 * Every exchange goes through one, so a rewriter that only passes a JSON answer on costs next to
 * nothing: it is no event emitter of its own (listeners go to the response it wraps) and makes its
 * `done` promise only when one is awaited before the end.
 */
export class ResponseRewriter implements ResponseWriter {
  readonly #res: ResponseWriter;
  readonly #o: RewriterOptions;
  #mode: 'pass' | 'json' | 'sse' = 'pass';
  #status = 200;
  #headers: OutgoingHeaders = {};
  #headersSent = false;
  #ended = false;
  #held: Buffer[] = [];
  #heldBytes = 0;
  #tooLarge = false;
  #pending = '';
  #chain: Promise<void> = Promise.resolve();
  #captured: Buffer[] = [];
  #capturedBytes = 0;
  #bytes = 0;
  #contentType = '';
  /** The rewriter has ended the response it wraps. */
  #finished = false;
  #done: Promise<void> | undefined;
  #resolveDone: (() => void) | undefined;

  constructor(res: ResponseWriter, options: RewriterOptions) {
    this.#res = res;
    this.#o = options;
  }

  /** Settles once the rewriter has ended the response it wraps, or the client has gone. */
  get done(): Promise<void> {
    if (this.#finished || this.#res.destroyed) return SETTLED;
    if (!this.#done) {
      this.#done = new Promise((resolve) => {
        this.#resolveDone = resolve;
      });
      this.#res.once('close', () => this.#settle());
    }
    return this.#done;
  }

  #settle(): void {
    this.#finished = true;
    this.#resolveDone?.();
  }

  on(event: 'close' | 'drain', listener: () => void): this {
    this.#res.on(event, listener);
    return this;
  }
  once(event: 'close' | 'drain', listener: () => void): this {
    this.#res.once(event, listener);
    return this;
  }
  off(event: 'close' | 'drain', listener: () => void): this {
    this.#res.off(event, listener);
    return this;
  }

  get headersSent(): boolean {
    return this.#headersSent;
  }
  get statusCode(): number {
    return this.#status;
  }
  get destroyed(): boolean {
    return this.#res.destroyed;
  }
  get writableEnded(): boolean {
    return this.#ended;
  }
  get writableLength(): number {
    return this.#res.writableLength;
  }
  /** Body bytes sent to the client. */
  get bytes(): number {
    return this.#bytes;
  }
  get contentType(): string {
    return this.#contentType;
  }
  /** The copied-aside raw body, and whether it is complete. */
  captured(): { body: Buffer; complete: boolean } {
    return { body: Buffer.concat(this.#captured), complete: this.#capturedBytes <= this.#o.captureBytes };
  }

  writeHead(status: number, headers: OutgoingHeaders = {}): this {
    this.#status = status;
    this.#headers = { ...headers };
    this.#headersSent = true;
    const type = String(this.#headers['content-type'] ?? '');
    this.#contentType = type;
    if (this.#o.rewrite && !this.#o.eventStreamOnly && status === 200 && type.startsWith('application/json'))
      this.#mode = 'json';
    else if ((this.#o.rewrite || this.#o.drop) && type.startsWith('text/event-stream')) this.#mode = 'sse';
    if (this.#mode !== 'json') this.#res.writeHead(status, this.#headers);
    return this;
  }

  flushHeaders(): void {
    if (this.#mode !== 'json') this.#res.flushHeaders();
  }

  write(chunk: Buffer | string): boolean {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    this.#capture(buf);
    if (this.#mode === 'json') {
      this.#heldBytes += buf.length;
      if (this.#heldBytes > (this.#o.maxHeldBytes ?? DEFAULT_MAX_HELD)) this.#tooLarge = true;
      else this.#held.push(buf);
      return true;
    }
    if (this.#mode === 'sse') {
      this.#pending += buf.toString('utf8');
      this.#drainEvents();
      return this.#res.writableLength < 64 * 1024;
    }
    return this.#send(buf);
  }

  end(chunk?: Buffer | string): this {
    if (this.#ended) return this;
    if (chunk !== undefined) this.write(chunk);
    this.#ended = true;
    if (!this.#headersSent) this.writeHead(this.#status);
    if (this.#mode === 'json') {
      void this.#finishJson();
    } else if (this.#mode === 'sse') {
      const rest = this.#pending;
      this.#pending = '';
      this.#chain = this.#chain.then(() => {
        if (rest) this.#send(Buffer.from(rest));
        this.#endRes();
      });
    } else {
      this.#endRes();
    }
    return this;
  }

  destroy(): void {
    this.#res.destroy();
  }

  #capture(buf: Buffer): void {
    // One byte past the limit is kept, so that a body of exactly the limit counts as complete.
    const room = this.#o.captureBytes === 0 ? 0 : this.#o.captureBytes + 1 - this.#capturedBytes;
    if (room <= 0) return;
    const part = buf.subarray(0, room);
    this.#captured.push(part);
    this.#capturedBytes += part.length;
  }

  #send(buf: Buffer): boolean {
    if (this.#res.destroyed) return false;
    this.#bytes += buf.length;
    return this.#res.write(buf);
  }

  #failureBody(): string {
    return errorBody(this.#o.id, this.#o.failure.code, this.#o.failure.message);
  }

  async #finishJson(): Promise<void> {
    let body: string;
    try {
      if (this.#tooLarge) throw new Error('too large');
      const parsed = JSON.parse(Buffer.concat(this.#held).toString('utf8')) as unknown;
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
        throw new Error('not an object');
      body = JSON.stringify(await this.#o.rewrite!(parsed as Record<string, unknown>));
    } catch {
      body = this.#failureBody();
    }
    if (this.#res.destroyed) return this.#settle();
    const { 'content-length': _l, ...rest } = this.#headers;
    const bytes = Buffer.from(body);
    this.#bytes += bytes.length;
    this.#res.writeHead(this.#status, { ...rest, 'content-length': String(bytes.length) });
    this.#endRes(bytes);
  }

  /**
   * `done` means the rewriter has handed everything to the response, not that the client has it: the
   * endpoint records the audit event before the response's end may go out (`OutboundResponse.holdEnd`).
   */
  #endRes(last?: Buffer): void {
    this.#res.end(last);
    this.#settle();
  }

  /** Sends complete events in order; the answer to the request goes through the rewrite first. */
  #drainEvents(): void {
    for (;;) {
      const m = /\r?\n\r?\n/.exec(this.#pending);
      if (!m) return;
      const event = this.#pending.slice(0, m.index + m[0].length);
      this.#pending = this.#pending.slice(m.index + m[0].length);
      const parsed = this.#messageIn(event);
      const rewrite = this.#o.rewrite;
      const answers =
        parsed !== undefined &&
        parsed.message.id === this.#o.id &&
        ('result' in parsed.message || 'error' in parsed.message);
      if (parsed && !answers && this.#o.drop?.(parsed.message)) {
        const kept = parsed.head.split('\n').filter((l) => l.startsWith('id:') || l.startsWith('retry:'));
        if (kept.length > 0)
          this.#chain = this.#chain.then(() => void this.#send(Buffer.from(`${kept.join('\n')}\n\n`)));
        continue;
      }
      this.#chain = this.#chain.then(async () => {
        if (!parsed || !answers || !rewrite) {
          this.#send(Buffer.from(event));
          return;
        }
        let json: string;
        try {
          json = JSON.stringify(await rewrite(parsed.message));
        } catch {
          json = this.#failureBody();
        }
        this.#send(Buffer.from(`${parsed.head}data: ${json}\n\n`));
      });
    }
  }

  /** The event's JSON-RPC message, with its non-data lines; undefined when it holds none. */
  #messageIn(event: string): { message: Record<string, unknown>; head: string } | undefined {
    const lines = event.split(/\r?\n/);
    const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(l[5] === ' ' ? 6 : 5));
    if (data.length === 0) return undefined;
    try {
      const msg = JSON.parse(data.join('\n')) as unknown;
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) return undefined;
      const head = lines
        .filter((l) => l !== '' && !l.startsWith('data:'))
        .map((l) => `${l}\n`)
        .join('');
      return { message: msg as Record<string, unknown>, head };
    } catch {
      return undefined;
    }
  }
}
