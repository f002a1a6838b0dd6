/**
 * An incremental, strict parser of HTTP/1.1 responses (RFC 9112), for the sidecar's loopback client.
 * Strict where leniency lets two parsers disagree about where a message ends: CRLF line ends only, no
 * obsolete line folding, header names that are tokens, a `Transfer-Encoding` other than `chunked`
 * refused, `Content-Length` and `Transfer-Encoding` together refused, conflicting lengths refused.
 * Interim (1xx) responses are skipped; `101 Switching Protocols` is refused (nothing upgrades here).
 *
 * @module
 */

export interface ResponseHead {
  statusCode: number;
  /** Lower-case names; repeated fields joined with ", ", except `set-cookie` (a list). */
  headers: Record<string, string | string[]>;
  /** Whether the connection may carry another request after this response. */
  keepAlive: boolean;
}

export interface ResponseSink {
  head(head: ResponseHead): void;
  body(chunk: Buffer): void;
  end(): void;
}

/** A response that cannot be parsed safely; the connection must be closed. */
export class HttpParseError extends Error {
  readonly code = 'UPSTREAM_BAD_RESPONSE';
}

const MAX_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4 * 1024;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\r\n]*)?$/;
/** A field name or method (RFC 9110 §5.6.2). */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** A field value: visible ASCII, obs-text, SP and HTAB (RFC 9110 §5.5); no CR, LF or NUL. */
export const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const DIGITS = /^\d{1,15}$/;
const CLOSE = /(^|[\s,])close($|[\s,])/i;
const KEEP_ALIVE = /(^|[\s,])keep-alive($|[\s,])/i;
/** SP or HTAB. */
const isOws = (c: number) => c === 32 || c === 9;
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'close' | 'done';

export class ResponseParser {
  #state: State = 'head';
  #pending: Buffer | undefined = undefined;
  #remaining = 0;
  #keepAlive = true;
  readonly #sink: ResponseSink;

  constructor(sink: ResponseSink) {
    this.#sink = sink;
  }

  /** Whether the whole response has been parsed. */
  get done(): boolean {
    return this.#state === 'done';
  }

  /**
   * Consumes bytes from the connection. Returns the bytes left over after the end of the response
   * (there should be none: nothing was pipelined), or undefined.
   *
   * @throws HttpParseError when the response is malformed.
   */
  feed(data: Buffer): Buffer | undefined {
    let buf = this.#pending ? Buffer.concat([this.#pending, data]) : data;
    this.#pending = undefined;
    while (buf.length > 0) {
      switch (this.#state) {
        case 'head':
        case 'trailers': {
          if (this.#state === 'trailers') {
            // No trailer fields: the chunked body ends with one more CRLF.
            if (buf.length < 2) {
              this.#pending = buf;
              return undefined;
            }
            if (buf[0] === 13 && buf[1] === 10) {
              buf = buf.subarray(2);
              this.#finish();
              continue;
            }
          }
          const end = buf.indexOf(HEAD_END);
          if (end === -1) {
            if (buf.length > MAX_HEAD_BYTES) throw new HttpParseError('the response head is too large');
            this.#pending = buf;
            return undefined;
          }
          if (end > MAX_HEAD_BYTES) throw new HttpParseError('the response head is too large');
          if (this.#state === 'trailers') {
            // Trailers are read and dropped: nothing downstream uses them.
            buf = buf.subarray(end + 4);
            this.#finish();
            continue;
          }
          const head = buf.toString('latin1', 0, end);
          buf = buf.subarray(end + 4);
          this.#onHead(head);
          continue;
        }
        case 'length': {
          buf = this.#emitBody(buf);
          if (this.#remaining === 0) this.#finish();
          continue;
        }
        case 'chunk-size': {
          const eol = buf.indexOf(CRLF);
          if (eol === -1) {
            if (buf.length > MAX_CHUNK_LINE) throw new HttpParseError('a chunk-size line is too long');
            this.#pending = buf;
            return undefined;
          }
          const line = buf.toString('latin1', 0, eol);
          buf = buf.subarray(eol + 2);
          const size = /^([0-9A-Fa-f]{1,12})(?:[ \t]*;[^\r\n]*)?$/.exec(line);
          if (!size) throw new HttpParseError('a chunk size is malformed');
          this.#remaining = Number.parseInt(size[1]!, 16);
          this.#state = this.#remaining === 0 ? 'trailers' : 'chunk-data';
          continue;
        }
        case 'chunk-data': {
          buf = this.#emitBody(buf);
          if (this.#remaining === 0) this.#state = 'chunk-end';
          continue;
        }
        case 'chunk-end': {
          if (buf.length < 2) {
            this.#pending = buf;
            return undefined;
          }
          if (buf[0] !== 13 || buf[1] !== 10) throw new HttpParseError('a chunk does not end with CRLF');
          buf = buf.subarray(2);
          this.#state = 'chunk-size';
          continue;
        }
        case 'close':
          this.#sink.body(buf);
          return undefined;
        case 'done':
          return buf;
      }
    }
    return undefined;
  }

  /**
   * The connection ended. Completes a response delimited by the close.
   *
   * @throws HttpParseError when the response was cut short.
   */
  end(): void {
    if (this.#state === 'done') return;
    if (this.#state === 'close') {
      this.#finish();
      return;
    }
    throw new HttpParseError('the connection closed before the response was complete');
  }

  /** Hands the sink up to `#remaining` body bytes; returns what follows them. */
  #emitBody(buf: Buffer): Buffer {
    const n = Math.min(this.#remaining, buf.length);
    this.#sink.body(buf.subarray(0, n));
    this.#remaining -= n;
    return buf.subarray(n);
  }

  #finish(): void {
    this.#state = 'done';
    this.#sink.end();
  }

  #onHead(text: string): void {
    let eol = text.indexOf('\r\n');
    if (eol === -1) eol = text.length;
    const status = STATUS_LINE.exec(text.slice(0, eol));
    if (!status) throw new HttpParseError('the status line is malformed');
    const minor = status[1];
    const statusCode = Number(status[2]);
    const headers: Record<string, string | string[]> = {};
    for (let start = eol + 2; start < text.length; start = eol + 2) {
      eol = text.indexOf('\r\n', start);
      if (eol === -1) eol = text.length;
      const colon = text.indexOf(':', start);
      if (colon <= start || colon > eol) throw new HttpParseError('a header line is malformed (or folded)');
      const name = text.slice(start, colon);
      if (!TOKEN.test(name)) throw new HttpParseError('a header name is not a token');
      // Optional whitespace around the value (RFC 9112 §5.1), trimmed by index: no regex replace.
      let from = colon + 1;
      let to = eol;
      while (from < to && isOws(text.charCodeAt(from))) from++;
      while (to > from && isOws(text.charCodeAt(to - 1))) to--;
      const value = text.slice(from, to);
      if (!FIELD_VALUE.test(value)) throw new HttpParseError('a header value has a forbidden character');
      const key = name.toLowerCase();
      // Repeated fields are joined as RFC 9110 §5.3 allows, except set-cookie (a list).
      if (!Object.hasOwn(headers, key)) headers[key] = key === 'set-cookie' ? [value] : value;
      else {
        const previous = headers[key]!;
        if (typeof previous === 'string') headers[key] = `${previous}, ${value}`;
        else previous.push(value);
      }
    }
    if (statusCode === 101) throw new HttpParseError('the upstream switched protocols');
    if (statusCode < 200) return; // An interim response: the real one follows.

    const connection = headers.connection;
    this.#keepAlive =
      minor === '1'
        ? !(typeof connection === 'string' && CLOSE.test(connection))
        : typeof connection === 'string' && KEEP_ALIVE.test(connection);
    const te = headers['transfer-encoding'] as string | undefined;
    const cl = headers['content-length'] as string | undefined;
    if (te !== undefined && cl !== undefined)
      throw new HttpParseError('both Transfer-Encoding and Content-Length');
    let length: number | undefined;
    if (cl !== undefined) {
      // Repeated or list-valued, every value must be the same number (RFC 9112 §6.3).
      const values = cl.includes(',') ? cl.split(',').map((x) => x.trim()) : [cl];
      if (!values.every((v) => DIGITS.test(v) && v === values[0]))
        throw new HttpParseError('the Content-Length is invalid or conflicting');
      length = Number(values[0]);
    }
    let next: State;
    if (statusCode === 204 || statusCode === 304) next = 'done';
    else if (te !== undefined) {
      const codings = te.split(',').map((c) => c.trim().toLowerCase());
      if (codings.length !== 1 || codings[0] !== 'chunked')
        throw new HttpParseError('a Transfer-Encoding other than chunked');
      next = 'chunk-size';
    } else if (length !== undefined) {
      this.#remaining = length;
      next = length === 0 ? 'done' : 'length';
    } else {
      // Delimited by the close of the connection, which therefore cannot be reused.
      this.#keepAlive = false;
      next = 'close';
    }
    this.#sink.head({ statusCode, headers, keepAlive: this.#keepAlive });
    if (next === 'done') this.#finish();
    else this.#state = next;
  }

  /** Whether the connection may be reused once the response is done (known after the head). */
  get keepAlive(): boolean {
    return this.#keepAlive;
  }
}
