/**
 * An incremental, strict parser of HTTP/1.1 requests (RFC 9112), for the proxy's inbound server. It
 * decides where each request ends, which is what request smuggling attacks: wherever two parsers could
 * disagree, this one refuses the request and the connection is closed. Refused are obsolete line
 * folding, bare LF, header names that are not tokens, values with CR, LF or NUL, `Transfer-Encoding`
 * together with `Content-Length`, a `Transfer-Encoding` other than exactly `chunked`, conflicting or
 * repeated lengths, malformed chunk lines, a `Host` that is repeated or not a host (RFC 9112 §3.2),
 * and an HTTP/1.1 request without one. An absolute-form target's authority replaces `Host` (§3.2.2),
 * as a front proxy that routes by it would read it.
 *
 * @module
 */

import { BodyDecoder, type BodyFraming } from './body-decoder.ts';
import {
  DIGITS,
  fieldSectionEnd,
  HeaderFieldError,
  type HeaderFields,
  isChunkedOnly,
  parseFieldLines,
  persists,
  TOKEN,
  TOO_LARGE,
} from './header-fields.ts';

export interface RequestHead {
  method: string;
  /** The origin-form target (path and query); an absolute-form target is reduced to it. */
  url: string;
  /** `1.1` or `1.0`. */
  httpVersion: '1.0' | '1.1';
  headers: HeaderFields;
  /** Whether the client allows another request on the connection after this one. */
  keepAlive: boolean;
  /** Whether the client waits for `100 Continue` before sending the body. */
  expectContinue: boolean;
}

export interface RequestSink {
  head(head: RequestHead): void;
  body(chunk: Buffer): void;
  end(): void;
}

/** A request that cannot be parsed safely: answer `status` and close the connection. */
export class RequestParseError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

const REQUEST_LINE = /^([^ ]+) ([^ ]+) HTTP\/(\d)\.(\d)$/;
/** Visible ASCII: what a request target may contain once percent-encoded. */
const TARGET = /^[\x21-\x7e]+$/;
/**
 * `uri-host [ ":" port ]` (RFC 3986 §3.2.2): an IP literal, or a registered name, which may be empty.
 * No space, so repeated `Host` lines, which the field parser joins with ", ", never match.
 */
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(?::\d*)?$/;

const bad = (message: string) => new RequestParseError(400, message);

/** Parses one request; a connection makes a new parser for each. */
export class RequestParser {
  #pending: Buffer | undefined = undefined;
  #body: BodyDecoder | undefined = undefined;
  #done = false;
  readonly #sink: RequestSink;
  readonly #maxHeadBytes: number;

  constructor(sink: RequestSink, maxHeadBytes: number) {
    this.#sink = sink;
    this.#maxHeadBytes = maxHeadBytes;
  }

  /** Whether the whole request has been parsed. */
  get done(): boolean {
    return this.#done;
  }

  /** Whether the head has been parsed (the request has begun being handled). */
  get started(): boolean {
    return this.#body !== undefined || this.#done;
  }

  /** Whether some bytes of the request (and not just of its body) have arrived. */
  get hasBytes(): boolean {
    return this.started || this.#pending !== undefined;
  }

  /**
   * Consumes bytes from the connection. Returns the bytes after the end of the request (a pipelined
   * next request), or undefined.
   *
   * @throws RequestParseError when the request is malformed.
   */
  feed(data: Buffer): Buffer | undefined {
    if (this.#done) return data;
    if (this.#body) return this.#feedBody(data);
    let buf = this.#pending ? Buffer.concat([this.#pending, data]) : data;
    this.#pending = undefined;
    // Empty lines before a request line are ignored (RFC 9112 §2.2): some clients send a CRLF after a body.
    while (buf.length >= 2 && buf[0] === 13 && buf[1] === 10) buf = buf.subarray(2);
    if (buf.length === 0) return undefined;
    const end = fieldSectionEnd(buf, this.#maxHeadBytes);
    if (end === TOO_LARGE) throw new RequestParseError(431, 'the request head is too large');
    if (end === -1) {
      this.#pending = buf;
      return undefined;
    }
    const framing = this.#onHead(buf.toString('latin1', 0, end));
    const rest = buf.subarray(end + 4);
    if (framing === undefined) {
      this.#finish();
      return rest;
    }
    const sink = { body: (chunk: Buffer) => this.#sink.body(chunk), end: () => this.#finish() };
    this.#body = new BodyDecoder(framing, sink, this.#maxHeadBytes, (message, status) =>
      status === 431 ? new RequestParseError(431, message) : bad(message),
    );
    return this.#feedBody(rest);
  }

  #feedBody(buf: Buffer): Buffer | undefined {
    return this.#body!.feed(buf);
  }

  #finish(): void {
    this.#done = true;
    this.#sink.end();
  }

  /** Parses the head, hands it to the sink, and returns how the body is framed (undefined: no body). */
  #onHead(text: string): BodyFraming | undefined {
    let eol = text.indexOf('\r\n');
    if (eol === -1) eol = text.length;
    const line = REQUEST_LINE.exec(text.slice(0, eol));
    if (!line) throw bad('the request line is malformed');
    const [, method, target, major, minor] = line as unknown as [string, string, string, string, string];
    if (major !== '1' || (minor !== '0' && minor !== '1'))
      throw new RequestParseError(505, `HTTP/${major}.${minor} is not supported`);
    if (!TOKEN.test(method)) throw bad('the method is not a token');
    const { url, authority } = requestTarget(method, target);
    const headers = fieldLines(text, eol + 2);

    const host = headers.host;
    if (host !== undefined && !(typeof host === 'string' && HOST.test(host)))
      throw bad('the Host header is repeated or not a host');
    if (minor === '1' && host === undefined) throw bad('an HTTP/1.1 request needs a Host header');
    if (authority !== undefined) headers.host = authority;
    const keepAlive = persists(minor, headers.connection);
    const expect = headers.expect;
    if (expect !== undefined && !(typeof expect === 'string' && expect.toLowerCase() === '100-continue'))
      throw new RequestParseError(417, 'the only expectation supported is 100-continue');

    const te = headers['transfer-encoding'];
    const cl = headers['content-length'];
    let framing: BodyFraming | undefined;
    if (te !== undefined) {
      if (cl !== undefined) throw bad('both Transfer-Encoding and Content-Length');
      if (minor === '0') throw bad('Transfer-Encoding in an HTTP/1.0 request');
      if (typeof te !== 'string' || !isChunkedOnly(te))
        throw new RequestParseError(501, 'a Transfer-Encoding other than chunked');
      framing = { kind: 'chunked' };
    } else if (cl !== undefined) {
      // One value only. RFC 9112 §6.3 lets a recipient merge repeated equal lengths, but llhttp refuses
      // them (Go's net/http refuses them as a list), and a front that does frames the body otherwise.
      if (typeof cl !== 'string' || !DIGITS.test(cl)) throw bad('the Content-Length is invalid or repeated');
      const length = Number(cl);
      if (length > 0) framing = { kind: 'length', length };
    }

    this.#sink.head({
      method,
      url,
      httpVersion: minor === '1' ? '1.1' : '1.0',
      headers,
      keepAlive,
      expectContinue: expect !== undefined && minor === '1',
    });
    return framing;
  }
}

function fieldLines(text: string, start: number): HeaderFields {
  try {
    return parseFieldLines(text, start);
  } catch (err) {
    if (err instanceof HeaderFieldError) throw bad(err.message);
    throw err;
  }
}

/**
 * The path and query a target names (RFC 9112 §3.2), and the authority of an absolute-form target,
 * which a server must use instead of `Host` (§3.2.2). Authority-form (CONNECT) and asterisk-form name
 * no resource here; userinfo in a target is refused (RFC 9110 §4.2.4).
 */
function requestTarget(method: string, target: string): { url: string; authority?: string } {
  if (!TARGET.test(target)) throw bad('the request target has a forbidden character');
  if (target.charCodeAt(0) === 47 /* / */) return { url: target };
  if (target === '*' && method === 'OPTIONS') return { url: target };
  const absolute = /^https?:\/\/([^/?#]*)/i.exec(target);
  if (absolute && URL.canParse(target)) {
    const authority = absolute[1]!;
    if (authority === '' || !HOST.test(authority)) throw bad('the request target has no valid authority');
    const url = new URL(target);
    return { url: `${url.pathname}${url.search}`, authority };
  }
  throw bad('the request target must be a path');
}
