/**
 * Random HTTP/1.1 message streams for the framing differential tests: one to three pipelined requests
 * (`framingCase`), or one to three responses on one connection (`responseFramingCase`), most of them
 * well formed, each with a few of the deviations that request smuggling and response splitting are
 * made of — lengths written oddly or twice, `Transfer-Encoding` spelled or listed oddly, both framings
 * at once, chunk lines with odd sizes, extensions or line ends, trailers, bare LF or CR, folded or
 * padded header lines, control bytes, odd start lines. A body that its framing does not describe is
 * followed by a plain message, so that a parser reading the body differently reads another message.
 *
 * @module
 */

/** The draws the generator needs, from a seeded PRNG. */
export interface Draw {
  next(): number;
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export function draw(next: () => number): Draw {
  const int = (n: number) => Math.floor(next() * n);
  return {
    next,
    int,
    pick: <T>(items: readonly T[]): T => items[int(items.length)]!,
    chance: (p: number) => next() < p,
  };
}

export const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'post', 'P@ST', 'GET\x00'];
export const TARGETS = [
  '/mcp',
  '/a?b=c',
  '/',
  'http://h.example/p?q=1',
  '*',
  '/a b',
  '/%00',
  '/\x7f',
  '/\xe9',
  'p',
];
export const VERSIONS = [
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/1.2',
  'HTTP/2.0',
  'http/1.1',
  'HTTP/01.1',
  'HTTP/1.1 ',
  'HTTP/1',
];
/** Line ends: nearly always CRLF. */
export const EOLS = ['\r\n', '\n', '\r', '\r\r\n', '\n\r'];
const HOSTS = ['h.example', 'h.example:8080', '', 'a, b', 'a b', '[::1]:80', 'h.example\x00'];
const TE = [
  'chunked',
  'Chunked',
  'CHUNKED',
  ' chunked',
  'chunked ',
  '\tchunked',
  'chunked, chunked',
  'identity',
  'gzip, chunked',
  'chunked, gzip',
  'chunkedx',
  'xchunked',
  'chunked;q=1',
  ',chunked',
  'chunked,',
  'chunk ed',
  'chunked\x00',
  '\x0bchunked',
];
const NAMES_CL = [
  'Content-Length',
  'content-length',
  'Content-Length ',
  ' Content-Length',
  'Content-Length\t',
  'Content_Length',
];
const NAMES_TE = [
  'Transfer-Encoding',
  'transfer-encoding',
  'Transfer-Encoding ',
  'Transfer_Encoding',
  'Transfer-Encoding\t',
];

/** How a Content-Length of `n` may be written. */
function lengthValue(d: Draw, n: number): string {
  switch (d.int(14)) {
    case 0:
      return `0${n}`;
    case 1:
      return `+${n}`;
    case 2:
      return `${n}, ${n}`;
    case 3:
      return `${n},${n + 1}`;
    case 4:
      return `0x${n.toString(16)}`;
    case 5:
      return ` ${n} `;
    case 6:
      return `${n}.0`;
    case 7:
      return '-1';
    case 8:
      return '99999999999999999999';
    case 9:
      return '';
    case 10:
      return `${n}\x00`;
    case 11:
      return `${n} ${n}`;
    default:
      return String(n);
  }
}

/** A chunk-size line for a chunk of `n` bytes (without its line end). */
function chunkSize(d: Draw, n: number): string {
  const hex = n.toString(16);
  if (d.chance(0.75)) return hex;
  return d.pick([
    hex.toUpperCase(),
    `000${hex}`,
    `${hex} `,
    ` ${hex}`,
    `${hex};ext=1`,
    `${hex} ;ext`,
    `${hex}\t;e="q"`,
    `${hex};`,
    `+${hex}`,
    `-${hex}`,
    `0x${hex}`,
    `ffffffffffffffff${hex}`,
    `${hex};e\x00`,
    `${hex}\x00`,
    `${hex}g`,
  ]);
}

/** A header line; sometimes padded, folded or with a control byte in its value. */
export function fieldLine(d: Draw, name: string, value: string, eol: () => string): string {
  if (d.chance(0.03)) return `${name}:${eol()} ${value}${eol()}`; // obsolete line folding
  if (d.chance(0.05)) return `${name}: ${d.pick(['\x01', '\x7f', '\x0c', '\xff', '\t'])}${value}${eol()}`;
  const pad = d.chance(0.1) ? d.pick(['', '  ', '\t', ' \t ']) : ' ';
  const tail = d.chance(0.05) ? d.pick([' ', '\t', ' \t']) : '';
  return `${name}:${pad}${value}${tail}${eol()}`;
}

/** A chunked body carrying `data`, with its chunk lines, chunk ends, last chunk and trailers. */
function chunkedBody(d: Draw, data: string, eol: () => string): string {
  let out = '';
  let at = 0;
  while (at < data.length) {
    const n = 1 + d.int(data.length - at);
    out += `${chunkSize(d, n)}${eol()}${data.slice(at, at + n)}`;
    out += d.chance(0.95) ? eol() : d.pick(['', 'X', '\r']);
    at += n;
  }
  out += `${d.chance(0.9) ? '0' : d.pick(['00', '0;x=y', '0 ', '000'])}${eol()}`;
  if (d.chance(0.15)) out += fieldLine(d, d.pick(['Trailer-A', 'Content-Length', 'Bad Name', 'X']), 'v', eol);
  return out + eol();
}

/** One request, with its body; `plain` gives a well-formed GET. */
function request(d: Draw, plain: boolean): string {
  const odd = (p: number) => !plain && d.chance(p);
  const eol = () => (odd(0.015) ? d.pick(EOLS) : '\r\n');
  let head = odd(0.05) ? d.pick(['\r\n', '\r\n\r\n', '\n', ' ']) : '';
  const method = odd(0.06) ? d.pick(METHODS) : plain ? 'GET' : d.pick(['GET', 'POST', 'POST', 'POST']);
  const target = odd(0.06) ? d.pick(TARGETS) : plain ? '/smuggled' : '/mcp';
  const version = odd(0.05) ? d.pick(VERSIONS) : odd(0.1) ? 'HTTP/1.0' : 'HTTP/1.1';
  const sp = () => (odd(0.03) ? d.pick(['  ', '\t', '']) : ' ');
  head += `${method}${sp()}${target}${sp()}${version}${eol()}`;

  const hosts = odd(0.05) ? d.int(3) : 1;
  const lines: string[] = [];
  for (let i = 0; i < hosts; i++)
    lines.push(fieldLine(d, 'Host', odd(0.08) ? d.pick(HOSTS) : 'h.example', eol));
  if (odd(0.2)) lines.push(fieldLine(d, 'X-Extra', d.pick(['1', 'a b', 'é', '"q"']), eol));
  if (odd(0.04)) lines.push(fieldLine(d, 'Connection', d.pick(['close', 'keep-alive', 'Close, x']), eol));
  if (odd(0.02)) lines.push(fieldLine(d, 'Expect', d.pick(['100-continue', '100-Continue', 'x']), eol));

  const data = plain ? '' : DATA.slice(0, d.int(24));
  const framing = plain
    ? 'none'
    : d.pick(['length', 'length', 'chunked', 'chunked', 'both', 'none'] as const);
  const body = framed(d, odd, eol, lines, framing, data);
  return `${head}${shuffled(d, lines).join('')}${eol()}${body}`;
}

const DATA = 'abcdefghijklmnopqrstuvwxyz0123456789';

/**
 * The framing fields a body of `data` declares (pushed onto `lines`), and the body as it is sent:
 * `none` sends no framing fields and no body.
 */
export function framed(
  d: Draw,
  odd: (p: number) => boolean,
  eol: () => string,
  lines: string[],
  framing: 'length' | 'chunked' | 'both' | 'none',
  data: string,
): string {
  let body = '';
  if (framing === 'length' || framing === 'both') {
    const declared = odd(0.1) ? d.int(data.length + 8) : data.length;
    const count = odd(0.08) ? 2 : 1;
    for (let i = 0; i < count; i++) {
      const value = odd(0.3) ? lengthValue(d, i === 0 ? declared : d.int(30)) : String(declared);
      lines.push(fieldLine(d, odd(0.08) ? d.pick(NAMES_CL) : 'Content-Length', value, eol));
    }
    body = data;
  }
  if (framing === 'chunked' || framing === 'both') {
    const count = odd(0.08) ? 2 : 1;
    for (let i = 0; i < count; i++) {
      const value = odd(0.35) ? d.pick(TE) : 'chunked';
      lines.push(fieldLine(d, odd(0.08) ? d.pick(NAMES_TE) : 'Transfer-Encoding', value, eol));
    }
    body = chunkedBody(d, data, eol);
  }
  return body;
}

/** Header order varies: some parsers decide on the first framing field they meet. */
export function shuffled(d: Draw, lines: string[]): string[] {
  for (let i = lines.length - 1; i > 0; i--) {
    const j = d.int(i + 1);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }
  return lines;
}

/** One case: a byte stream of one to three requests, the later ones often plain. */
export function framingCase(d: Draw): Buffer {
  let text = request(d, false);
  const more = d.int(3);
  for (let i = 0; i < more; i++) text += request(d, d.chance(0.7));
  return Buffer.from(text, 'latin1');
}

const STATUS_LINES = [
  'HTTP/1.1 204 No Content',
  'HTTP/1.1 304 Not Modified',
  'HTTP/1.1 200',
  'HTTP/1.1 200 ',
  'HTTP/1.1 404 Not Found',
  'HTTP/1.1 099 Low',
  'HTTP/1.1 600 High',
  'HTTP/1.1 20 Short',
  'HTTP/1.1 2000 Long',
  'HTTP/1.1 200 O\x00K',
  'HTTP/1.1  200 OK',
  'HTTP/1.1\t200 OK',
  'http/1.1 200 OK',
  'HTTP/1.2 200 OK',
  'HTTP/2.0 200 OK',
  'HTTP/1.1 101 Switching Protocols',
  'HTTP/1.1 200 OK\r',
];
const CONNECTION = [
  'close',
  'keep-alive',
  'Close',
  'close, x',
  'keep-alive, close',
  'x, keep-alive',
  'closex',
];

/** One response, with its body; `plain` gives a well-formed `200` with a length. */
function response(d: Draw, plain: boolean): string {
  const odd = (p: number) => !plain && d.chance(p);
  const eol = () => (odd(0.015) ? d.pick(EOLS) : '\r\n');
  // Interim answers come before the final one; a client skips them.
  let head = odd(0.06)
    ? `${d.pick(['HTTP/1.1 100 Continue', 'HTTP/1.1 103 Early Hints', 'HTTP/1.0 102 P'])}${eol()}${eol()}`
    : '';
  if (odd(0.04)) head += d.pick(['\r\n', '\n', ' ']);
  head += `${odd(0.12) ? d.pick(STATUS_LINES) : `${odd(0.1) ? 'HTTP/1.0' : 'HTTP/1.1'} 200 OK`}${eol()}`;

  const lines: string[] = [];
  if (odd(0.2)) lines.push(fieldLine(d, 'X-Extra', d.pick(['1', 'a b', 'é', '"q"']), eol));
  if (odd(0.05)) for (const v of ['a=1', 'b=2']) lines.push(fieldLine(d, 'Set-Cookie', v, eol));
  if (odd(0.1)) lines.push(fieldLine(d, 'Connection', d.pick(CONNECTION), eol));
  if (odd(0.03)) lines.push(fieldLine(d, 'Content-Type', 'application/json', eol));

  if (plain) return `${head}Content-Length: 8${eol()}${eol()}smuggled`;
  const data = DATA.slice(0, d.int(24));
  const framing = d.pick(['length', 'length', 'chunked', 'chunked', 'both', 'none'] as const);
  // Without framing fields the body runs to the close of the connection, taking in what follows.
  const body = framing === 'none' ? data : framed(d, odd, eol, lines, framing, data);
  return `${head}${shuffled(d, lines).join('')}${eol()}${body}`;
}

/** One case: the bytes a client reads on one connection, one to three responses, the later ones often plain. */
export function responseFramingCase(d: Draw): Buffer {
  let text = response(d, false);
  const more = d.int(3);
  for (let i = 0; i < more; i++) text += response(d, d.chance(0.7));
  return Buffer.from(text, 'latin1');
}
