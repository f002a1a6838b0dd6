/**
 * Holds back the end of a response until the proxy has recorded its audit event, so that no client
 * can see a complete answer whose event is not on the spool yet: otherwise a SIGKILL between the last
 * byte and the spool write loses an answered exchange, and under CPU load that gap is not short.
 *
 * Held back are the call to `end()` (it sends a chunked body's terminator and closes a
 * `Connection: close` exchange) and, when the response declares a `Content-Length`, the write that
 * completes that length (where such a client sees the end). Everything before streams as usual.
 *
 * It works on the `ServerResponse` instance itself, so every writer (each upstream kind, the response
 * rewriter) is covered without knowing about it.
 *
 * @module
 */
import type { OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';

export interface HeldEnd {
  /** Sends what was held back, and ends the response if its writer ended it. Idempotent. */
  release(): void;
}

type Callback = (err?: Error | null) => void;
type Method = (...args: unknown[]) => unknown;

/** The Content-Length among `writeHead` arguments (an object, or a raw `[name, value, …]` list). */
function declaredIn(args: unknown[]): number | undefined {
  const headers = args.findLast((a) => typeof a === 'object' && a !== null) as
    | OutgoingHttpHeaders
    | OutgoingHttpHeader[]
    | undefined;
  if (!headers) return undefined;
  let value: unknown;
  if (Array.isArray(headers)) {
    const flat = headers.flat();
    for (let i = 0; i + 1 < flat.length; i += 2)
      if (String(flat[i]).toLowerCase() === 'content-length') value = flat[i + 1];
  } else {
    for (const [name, v] of Object.entries(headers)) if (name.toLowerCase() === 'content-length') value = v;
  }
  const n = Number(value);
  return value !== undefined && Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

export function holdResponseEnd(res: ServerResponse): HeldEnd {
  const own = res as unknown as Record<'writeHead' | 'write' | 'end', Method>;
  const writeHead = res.writeHead as Method;
  const write = res.write as Method;
  const end = res.end as Method;
  let declared: number | undefined;
  let written = 0;
  const held: Buffer[] = [];
  const heldCallbacks: Callback[] = [];
  let endArgs: unknown[] | undefined;
  let released = false;

  own.writeHead = (...args) => {
    declared = declaredIn(args);
    return writeHead.apply(res, args);
  };
  own.write = (chunk, encodingOrCallback, callback) => {
    const encoding = typeof encodingOrCallback === 'string' ? (encodingOrCallback as BufferEncoding) : 'utf8';
    const cb = (typeof encodingOrCallback === 'function' ? encodingOrCallback : callback) as
      | Callback
      | undefined;
    const buf = typeof chunk === 'string' ? Buffer.from(chunk, encoding) : Buffer.from(chunk as Uint8Array);
    if (declared === undefined && !res.headersSent) declared = declaredIn([res.getHeaders()]);
    written += buf.length;
    if (held.length === 0 && (declared === undefined || written < declared)) return write.call(res, buf, cb);
    held.push(buf);
    if (cb) heldCallbacks.push(cb);
    return true;
  };
  own.end = (...args) => {
    endArgs ??= args;
    return res;
  };

  return {
    release() {
      if (released) return;
      released = true;
      // The instance's own methods go; the prototype's are the real ones again.
      delete (own as Partial<typeof own>).writeHead;
      delete (own as Partial<typeof own>).write;
      delete (own as Partial<typeof own>).end;
      if (res.destroyed) return;
      if (held.length > 0)
        write.call(res, Buffer.concat(held), (err?: Error | null) => {
          for (const cb of heldCallbacks) cb(err);
        });
      if (endArgs) end.apply(res, endArgs);
    },
  };
}
