/**
 * An incremental, strict parser of HTTP/1.1 responses (RFC 9112), for the sidecar's loopback client.
 * Strict where leniency lets two parsers disagree about where a message ends: CRLF line ends only, no
 * obsolete line folding, header names that are tokens, a `Transfer-Encoding` other than `chunked`
 * refused, `Content-Length` and `Transfer-Encoding` together refused, repeated lengths refused, and
 * `Transfer-Encoding` in an HTTP/1.0 response or with a tab in it refused (where llhttp and Go's
 * client end the body at different bytes).
 * Interim (1xx) responses are skipped, at most `MAX_INTERIM_RESPONSES` of them; `101 Switching
 * Protocols` is refused (nothing upgrades here).
 *
 * @module
 */

import { BodyDecoder, type BodyFraming } from '../http1/body-decoder.ts';
import {
  DIGITS,
  fieldSectionEnd,
  HeaderFieldError,
  type HeaderFields,
  isChunkedOnly,
  parseFieldLines,
  persists,
  TOO_LARGE,
} from '../http1/header-fields.ts';

export interface ResponseHead {
  statusCode: number;
  /** Lower-case names; repeated fields joined with ", ", except `set-cookie` (a list). */
  headers: HeaderFields;
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
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: [^\r\n]*)?$/;
/** A tab after the start of a `Transfer-Encoding` value (a leading one is optional whitespace to all). */
const TE_WITH_TAB = /\r\ntransfer-encoding:[ \t]*[^ \t\r\n][^\r\n]*\t/i;

/**
 * Interim answers skipped before the final one; one more fails the exchange. An upstream that sends
 * them without end would hold the exchange until the head timeout while its bytes are parsed for
 * nothing. Five is what Go's `http.Transport` allows; a real server sends one or two (100, 103).
 */
export const MAX_INTERIM_RESPONSES = 5;

const framingError = (message: string) => new HttpParseError(message);

export class ResponseParser {
  #pending: Buffer | undefined = undefined;
  #body: BodyDecoder | undefined = undefined;
  #done = false;
  #keepAlive = true;
  #interim = 0;
  readonly #sink: ResponseSink;

  constructor(sink: ResponseSink) {
    this.#sink = sink;
  }

  /** Whether the whole response has been parsed. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Consumes bytes from the connection. Returns the bytes left over after the end of the response
   * (there should be none: nothing was pipelined), or undefined.
   *
   * @throws HttpParseError when the response is malformed.
   */
  feed(data: Buffer): Buffer | undefined {
    if (this.#done) return data;
    if (this.#body) return this.#body.feed(data);
    let buf = this.#pending ? Buffer.concat([this.#pending, data]) : data;
    this.#pending = undefined;
    while (buf.length > 0) {
      const end = fieldSectionEnd(buf, MAX_HEAD_BYTES);
      if (end === TOO_LARGE) throw new HttpParseError('the response head is too large');
      if (end === -1) break;
      const framing = this.#onHead(buf.toString('latin1', 0, end));
      buf = buf.subarray(end + 4);
      if (framing === 'interim') continue; // The real response follows.
      if (framing === undefined) {
        this.#finish();
        return buf;
      }
      const sink = { body: (chunk: Buffer) => this.#sink.body(chunk), end: () => this.#finish() };
      this.#body = new BodyDecoder(framing, sink, MAX_HEAD_BYTES, framingError);
      return this.#body.feed(buf);
    }
    if (buf.length > 0) this.#pending = buf;
    return undefined;
  }

  /**
   * The connection ended. Completes a response delimited by the close.
   *
   * @throws HttpParseError when the response was cut short.
   */
  end(): void {
    if (this.#done) return;
    if (!this.#body?.end())
      throw new HttpParseError('the connection closed before the response was complete');
  }

  #finish(): void {
    this.#done = true;
    this.#sink.end();
  }

  /** Parses a head; returns how the body is framed (undefined: no body), or 'interim' for a 1xx. */
  #onHead(text: string): BodyFraming | undefined | 'interim' {
    let eol = text.indexOf('\r\n');
    if (eol === -1) eol = text.length;
    const status = STATUS_LINE.exec(text.slice(0, eol));
    if (!status) throw new HttpParseError('the status line is malformed');
    const minor = status[1];
    const statusCode = Number(status[2]);
    let headers: HeaderFields;
    try {
      headers = parseFieldLines(text, eol + 2);
    } catch (err) {
      if (err instanceof HeaderFieldError) throw new HttpParseError(err.message);
      throw err;
    }
    if (statusCode === 101) throw new HttpParseError('the upstream switched protocols');
    if (statusCode < 200) {
      if (++this.#interim > MAX_INTERIM_RESPONSES)
        throw new HttpParseError(
          `the upstream sent more than ${MAX_INTERIM_RESPONSES} interim (1xx) responses`,
        );
      return 'interim';
    }

    this.#keepAlive = persists(minor, headers.connection);
    const te = headers['transfer-encoding'] as string | undefined;
    const cl = headers['content-length'] as string | undefined;
    if (te !== undefined && cl !== undefined)
      throw new HttpParseError('both Transfer-Encoding and Content-Length');
    let length: number | undefined;
    if (cl !== undefined) {
      // One value only, as llhttp reads it: Go's client takes repeated equal lines, but not a list.
      if (!DIGITS.test(cl)) throw new HttpParseError('the Content-Length is invalid or repeated');
      length = Number(cl);
    }
    // Checked whatever the status: a 204 or 304 has no body, but a client that reads its framing
    // fields differently may still read one.
    if (te !== undefined) {
      if (!isChunkedOnly(te)) throw new HttpParseError('a Transfer-Encoding other than chunked');
      // HTTP/1.0 has no transfer codings, and its framing is then faulty (RFC 9112 §6.1): Go's client
      // reads such a body to the close, llhttp reads it chunked.
      if (minor === '0') throw new HttpParseError('Transfer-Encoding in an HTTP/1.0 response');
      // llhttp takes `chunked` followed by a tab for another coding, and so reads the body to the
      // close, where Go's client trims the tab and reads chunks.
      if (TE_WITH_TAB.test(text)) throw new HttpParseError('a tab in Transfer-Encoding');
    }
    let framing: BodyFraming | undefined;
    if (statusCode === 204 || statusCode === 304) framing = undefined;
    else if (te !== undefined) framing = { kind: 'chunked' };
    else if (length !== undefined) {
      framing = length === 0 ? undefined : { kind: 'length', length };
    } else {
      // Delimited by the close of the connection, which therefore cannot be reused.
      this.#keepAlive = false;
      framing = { kind: 'close' };
    }
    this.#sink.head({ statusCode, headers, keepAlive: this.#keepAlive });
    return framing;
  }

  /** Whether the connection may be reused once the response is done (known after the head). */
  get keepAlive(): boolean {
    return this.#keepAlive;
  }
}
