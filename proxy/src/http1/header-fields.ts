/**
 * The header-field syntax both of the proxy's HTTP/1.1 parsers share (RFC 9112 §5, RFC 9110 §5): the
 * inbound server's request parser and the upstream client's response parser. Strict where leniency
 * lets two parsers disagree about a message: CRLF line ends only, no obsolete line folding, names that
 * are tokens, no CR, LF or NUL in values.
 *
 * @module
 */

/** The pattern of a token (RFC 9110 §5.6.2), for building larger patterns. */
export const TOKEN_PATTERN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
/** A field name or method. */
export const TOKEN = new RegExp(`^${TOKEN_PATTERN}$`);
/** A field value: visible ASCII, obs-text, SP and HTAB (RFC 9110 §5.5); no CR, LF or NUL. */
export const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * A Content-Length value: digits only, and few enough to be an exact number. One value only: RFC 9112
 * §6.3 lets a recipient merge repeated equal ones, which llhttp refuses, in requests and responses.
 */
export const DIGITS = /^\d{1,15}$/;
/** A `Connection` value that lists `close`, or `keep-alive`. */
export const CLOSE = /(^|[\s,])close($|[\s,])/i;
const KEEP_ALIVE = /(^|[\s,])keep-alive($|[\s,])/i;

/**
 * Whether a connection persists after a message of HTTP/1.`minor` with this `Connection` field (RFC
 * 9112 §9.3): in HTTP/1.1 unless it lists `close`; in HTTP/1.0 only when it lists `keep-alive` and not
 * `close`. A repeated field (not a string) lists nothing the parsers trust.
 */
export function persists(minor: string, connection: string | string[] | undefined): boolean {
  const listed = typeof connection === 'string' ? connection : undefined;
  const close = listed !== undefined && CLOSE.test(listed);
  return minor === '1' ? !close : listed !== undefined && KEEP_ALIVE.test(listed) && !close;
}

const SECTION_END = Buffer.from('\r\n\r\n');
/** `fieldSectionEnd`: the section is larger than allowed. */
export const TOO_LARGE = -2;

/**
 * Where a field section (a message head, or trailers) that starts `buf` ends: the index of its final
 * CRLF CRLF, -1 while more bytes are needed, or `TOO_LARGE` when it exceeds `maxBytes`. The limit
 * counts the section without its final CRLF CRLF, so the answer does not depend on how the bytes
 * were split.
 */
export function fieldSectionEnd(buf: Buffer, maxBytes: number): number {
  const end = buf.indexOf(SECTION_END);
  if (end > maxBytes || (end === -1 && buf.length > maxBytes + 3)) return TOO_LARGE;
  return end;
}

/** Lower-case names; repeated fields joined with ", ", except `set-cookie` (a list). */
export type HeaderFields = Record<string, string | string[]>;

/** A header section that cannot be parsed safely. */
export class HeaderFieldError extends Error {}

/** SP or HTAB. */
const isOws = (c: number) => c === 32 || c === 9;

/**
 * Parses the field lines of a message head, `text` being the head without its final CRLF CRLF and
 * `start` the index just after the start line's CRLF.
 *
 * @throws HeaderFieldError on a folded or malformed line, a name that is not a token, or a value with a
 *   forbidden character.
 */
export function parseFieldLines(text: string, start: number): HeaderFields {
  const headers: HeaderFields = {};
  for (let eol = start - 2; start < text.length; start = eol + 2) {
    eol = text.indexOf('\r\n', start);
    if (eol === -1) eol = text.length;
    const colon = text.indexOf(':', start);
    if (colon <= start || colon > eol) throw new HeaderFieldError('a header line is malformed (or folded)');
    const name = text.slice(start, colon);
    if (!TOKEN.test(name)) throw new HeaderFieldError('a header name is not a token');
    // Optional whitespace around the value (RFC 9112 §5.1), trimmed by index: no regex replace.
    let from = colon + 1;
    let to = eol;
    while (from < to && isOws(text.charCodeAt(from))) from++;
    while (to > from && isOws(text.charCodeAt(to - 1))) to--;
    const value = text.slice(from, to);
    if (!FIELD_VALUE.test(value)) throw new HeaderFieldError('a header value has a forbidden character');
    const key = name.toLowerCase();
    // Repeated fields are joined as RFC 9110 §5.3 allows, except set-cookie (a list).
    if (!Object.hasOwn(headers, key)) headers[key] = key === 'set-cookie' ? [value] : value;
    else {
      const previous = headers[key]!;
      if (typeof previous === 'string') headers[key] = `${previous}, ${value}`;
      else previous.push(value);
    }
  }
  return headers;
}

/** Whether a `Transfer-Encoding` value is exactly `chunked`, the only coding either side accepts. */
export function isChunkedOnly(value: string): boolean {
  const codings = value.split(',').map((c) => c.trim().toLowerCase());
  return codings.length === 1 && codings[0] === 'chunked';
}
