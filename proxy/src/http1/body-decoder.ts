/**
 * Where an HTTP/1.1 message body ends (RFC 9112 §6, §7.1), for both of the proxy's parsers: a declared
 * length, the chunked coding, or (responses only) the close of the connection. Chunk lines are strict:
 * hexadecimal sizes of at most 12 digits, CRLF only, at most 4 KiB, and extensions that follow their
 * grammar (RFC 9112 §7.1.1) without the optional whitespace around `;` and `=`, which llhttp and Go's
 * net/http both refuse. Trailer fields are checked like header fields and dropped: nothing here uses
 * them.
 *
 * @module
 */
import {
  fieldSectionEnd,
  HeaderFieldError,
  parseFieldLines,
  TOKEN_PATTERN,
  TOO_LARGE,
} from './header-fields.ts';

export type BodyFraming = { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

export interface BodySink {
  body(chunk: Buffer): void;
  end(): void;
}

/** Makes the error a parser throws: `status` 431 for an oversized trailer section, else 400. */
export type FramingError = (message: string, status: 400 | 431) => Error;

const MAX_CHUNK_LINE = 4 * 1024;
/** A quoted-string (RFC 9110 §5.6.4): qdtext and quoted pairs. */
const QUOTED = '"(?:[\\t\\x20\\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t\\x20-\\x7e\\x80-\\xff])*"';
/** A chunk size and its extensions: `1f;name;name=value;name="quoted"`. */
const CHUNK_SIZE = new RegExp(
  `^([0-9A-Fa-f]{1,12})(?:;${TOKEN_PATTERN}(?:=(?:${TOKEN_PATTERN}|${QUOTED}))?)*$`,
);
const CRLF = Buffer.from('\r\n');

type State = 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'close' | 'done';

export class BodyDecoder {
  #state: State;
  #pending: Buffer | undefined = undefined;
  #remaining = 0;
  readonly #sink: BodySink;
  readonly #maxTrailerBytes: number;
  readonly #fail: FramingError;

  constructor(framing: BodyFraming, sink: BodySink, maxTrailerBytes: number, fail: FramingError) {
    this.#sink = sink;
    this.#maxTrailerBytes = maxTrailerBytes;
    this.#fail = fail;
    if (framing.kind === 'length') {
      this.#remaining = framing.length;
      this.#state = 'length';
    } else this.#state = framing.kind === 'chunked' ? 'chunk-size' : 'close';
  }

  get done(): boolean {
    return this.#state === 'done';
  }

  /** Whether the body runs until the connection closes. */
  get untilClose(): boolean {
    return this.#state === 'close';
  }

  /**
   * Consumes body bytes. Returns the bytes after the body's end, or undefined while it goes on.
   *
   * @throws what `fail` makes, on a malformed chunk line or trailer section.
   */
  feed(data: Buffer): Buffer | undefined {
    let buf = this.#pending ? Buffer.concat([this.#pending, data]) : data;
    this.#pending = undefined;
    if (this.#state === 'length' && this.#remaining === 0) return this.#finish(buf);
    while (buf.length > 0) {
      switch (this.#state) {
        case 'length': {
          buf = this.#emit(buf);
          if (this.#remaining === 0) return this.#finish(buf);
          continue;
        }
        case 'chunk-size': {
          const eol = buf.indexOf(CRLF);
          if (eol > MAX_CHUNK_LINE || (eol === -1 && buf.length > MAX_CHUNK_LINE + 1))
            throw this.#fail('a chunk-size line is too long', 400);
          if (eol === -1) return this.#wait(buf);
          const size = CHUNK_SIZE.exec(buf.toString('latin1', 0, eol));
          if (!size) throw this.#fail('a chunk size is malformed', 400);
          buf = buf.subarray(eol + 2);
          this.#remaining = Number.parseInt(size[1]!, 16);
          this.#state = this.#remaining === 0 ? 'trailers' : 'chunk-data';
          continue;
        }
        case 'chunk-data': {
          buf = this.#emit(buf);
          if (this.#remaining === 0) this.#state = 'chunk-end';
          continue;
        }
        case 'chunk-end': {
          if (buf.length < 2) return this.#wait(buf);
          if (buf[0] !== 13 || buf[1] !== 10) throw this.#fail('a chunk does not end with CRLF', 400);
          buf = buf.subarray(2);
          this.#state = 'chunk-size';
          continue;
        }
        case 'trailers': {
          // No trailer fields: the chunked body ends with one more CRLF.
          if (buf.length < 2) return this.#wait(buf);
          if (buf[0] === 13 && buf[1] === 10) return this.#finish(buf.subarray(2));
          const end = fieldSectionEnd(buf, this.#maxTrailerBytes);
          if (end === TOO_LARGE) throw this.#fail('the trailer section is too large', 431);
          if (end === -1) return this.#wait(buf);
          try {
            parseFieldLines(buf.toString('latin1', 0, end), 0);
          } catch (err) {
            if (err instanceof HeaderFieldError) throw this.#fail(`a trailer field: ${err.message}`, 400);
            throw err;
          }
          return this.#finish(buf.subarray(end + 4));
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
   * The connection ended: completes a body delimited by the close.
   *
   * @returns whether the body is complete.
   */
  end(): boolean {
    if (this.#state === 'close') this.#finish(undefined);
    return this.#state === 'done';
  }

  #wait(buf: Buffer): undefined {
    this.#pending = buf;
    return undefined;
  }

  /** Hands the sink up to `#remaining` body bytes; returns what follows them. */
  #emit(buf: Buffer): Buffer {
    const n = Math.min(this.#remaining, buf.length);
    this.#sink.body(n === buf.length ? buf : buf.subarray(0, n));
    this.#remaining -= n;
    return buf.subarray(n);
  }

  #finish<T extends Buffer | undefined>(rest: T): T {
    this.#state = 'done';
    this.#sink.end();
    return rest;
  }
}
