/**
 * Holds back the end of a response until the proxy has recorded its audit event, so that no client
 * can see a complete answer whose event is not on the spool yet: otherwise a SIGKILL between the last
 * byte and the spool write loses an answered exchange, and under CPU load that gap is not short.
 *
 * Held back are the call to `end()` (it sends a chunked body's terminator and closes a
 * `Connection: close` exchange) and, when the response declares a `Content-Length`, the write that
 * completes that length (where such a client sees the end). Everything before streams as usual.
 *
 * The proxy's HTTP server creates every response as a `HoldableResponse` (the `ServerResponse`
 * option of `createServer`), so every writer (each upstream kind, the response rewriter) is covered
 * without knowing about it. A subclass rather than patching each instance: adding and deleting own
 * methods on a response turned it into a dictionary-mode object, which slowed every later property
 * access Node's HTTP code made on it.
 *
 * @module
 */
import { type IncomingMessage, type OutgoingHttpHeaders, ServerResponse } from 'node:http';

type Callback = (err?: Error | null) => void;

/** The Content-Length among `writeHead` arguments (an object, or a raw `[name, value, …]` list). */
function declaredIn(args: readonly unknown[]): number | undefined {
  const headers = args.findLast((a) => typeof a === 'object' && a !== null) as
    | OutgoingHttpHeaders
    | unknown[]
    | undefined;
  if (!headers) return undefined;
  let value: unknown;
  if (Array.isArray(headers)) {
    const flat = headers.flat();
    for (let i = 0; i + 1 < flat.length; i += 2)
      if (String(flat[i]).toLowerCase() === 'content-length') value = flat[i + 1];
  } else {
    for (const name in headers) if (name.toLowerCase() === 'content-length') value = headers[name];
  }
  const n = Number(value);
  return value !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

function byteLength(chunk: unknown, encoding: BufferEncoding): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk, encoding) : (chunk as Uint8Array).byteLength;
}

export class HoldableResponse<
  Request extends IncomingMessage = IncomingMessage,
> extends ServerResponse<Request> {
  #holding = false;
  #declared: number | undefined = undefined;
  #written = 0;
  #held: Uint8Array[] = [];
  #heldCallbacks: Callback[] = [];
  #endArgs: unknown[] | undefined = undefined;

  /** From now on, the response's end waits for `releaseEnd()`. */
  holdEnd(): void {
    this.#holding = true;
    this.#declared = undefined;
    this.#written = 0;
  }

  /** Sends what was held back, and ends the response if its writer ended it. Idempotent. */
  releaseEnd(): void {
    if (!this.#holding) return;
    this.#holding = false;
    const held = this.#held;
    const callbacks = this.#heldCallbacks;
    const endArgs = this.#endArgs;
    this.#held = [];
    this.#heldCallbacks = [];
    this.#endArgs = undefined;
    if (this.destroyed) return;
    if (held.length > 0) {
      const chunk = held.length === 1 ? held[0]! : Buffer.concat(held);
      super.write(chunk, (err?: Error | null) => {
        for (const cb of callbacks) cb(err);
      });
    }
    if (endArgs) (super.end as (...a: unknown[]) => this)(...endArgs);
  }

  override writeHead(...args: unknown[]): this {
    if (this.#holding) this.#declared = declaredIn(args);
    return (super.writeHead as (...a: unknown[]) => this)(...args);
  }

  override write(chunk: unknown, encodingOrCallback?: unknown, callback?: unknown): boolean {
    if (!this.#holding)
      return (super.write as (...a: unknown[]) => boolean)(chunk, encodingOrCallback, callback);
    const encoding = typeof encodingOrCallback === 'string' ? (encodingOrCallback as BufferEncoding) : 'utf8';
    const cb = (typeof encodingOrCallback === 'function' ? encodingOrCallback : callback) as
      | Callback
      | undefined;
    if (this.#declared === undefined && !this.headersSent) this.#declared = declaredIn([this.getHeaders()]);
    this.#written += byteLength(chunk, encoding);
    const declared = this.#declared;
    if (this.#held.length === 0 && (declared === undefined || this.#written < declared))
      return cb ? super.write(chunk as Uint8Array, encoding, cb) : super.write(chunk as Uint8Array, encoding);
    this.#held.push(typeof chunk === 'string' ? Buffer.from(chunk, encoding) : (chunk as Uint8Array));
    if (cb) this.#heldCallbacks.push(cb);
    return true;
  }

  override end(...args: unknown[]): this {
    if (!this.#holding) return (super.end as (...a: unknown[]) => this)(...args);
    this.#endArgs ??= args;
    return this;
  }
}
