/**
 * Three HTTP/1.1 request parsers, each reduced to what it made of a byte stream: the proxy's own
 * (`RequestParser`, fed as its server feeds it), llhttp (`node:http`'s server, given the bytes as a
 * connection) and Go's `net/http` server (the `go-http-parser` fixture). For the framing differential
 * test: where parsers that front the proxy and the proxy itself split a stream into different
 * requests, one of them can be made to carry a request the other never saw.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { type IncomingMessage, Server, type ServerResponse } from 'node:http';
import { createInterface, type Interface } from 'node:readline';
import { Duplex } from 'node:stream';
import { setImmediate as turn } from 'node:timers/promises';
import { type RequestHead, RequestParseError, RequestParser } from '../../src/http1/request-parser.ts';

/** A request as a parser read it. Only framing and what routes or authorizes it are compared. */
export interface ParsedRequest {
  method: string;
  /** Path and query: an absolute-form target is reduced to them, as the proxy does. */
  target: string;
  /** Field values by lower-case name (repeated fields joined with ", "), without the framing fields and Host. */
  headers: Record<string, string>;
  /**
   * The Host header (or the authority of an absolute-form target, where the parser applies it);
   * undefined when absent or empty, which Go does not tell apart.
   */
  host: string | undefined;
  body: string;
}

/** The requests a parser read, in order, up to an error, the end of the bytes, or a request that closes. */
export interface Parsed {
  requests: ParsedRequest[];
  /** What ended the stream early: a status or error code. */
  error?: string;
}

const MAX_HEAD = 16 * 1024;

/** Path and query of an absolute-form target, as `request-parser.ts` reduces it; other targets as they are. */
export function reduceTarget(target: string): string {
  if (/^https?:\/\//i.test(target) && URL.canParse(target)) {
    const url = new URL(target);
    return `${url.pathname}${url.search}`;
  }
  return target;
}

/** The authority of an absolute-form target, or undefined. */
function authority(target: string): string | undefined {
  return /^https?:\/\/([^/?#]*)/i.exec(target)?.[1];
}

/** Field values by lower-case name, sorted, without Host and the framing fields. */
export function headerRecord(pairs: Iterable<[string, string]>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of pairs) {
    const key = name.toLowerCase();
    // The body compares the framing; Go folds repeated equal lengths into one and drops Transfer-Encoding.
    if (key === 'host' || key === 'transfer-encoding' || key === 'content-length') continue;
    out[key] = key in out ? `${out[key]}, ${value}` : value;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * The proxy's parser, fed `raw` in pieces cut at `cuts` (offsets), one parser per request as its
 * server does, stopping after a request that does not keep the connection alive.
 */
export function parseWithProxy(raw: Buffer, cuts: number[] = []): Parsed {
  const requests: ParsedRequest[] = [];
  let head: RequestHead | undefined;
  let body: Buffer[] = [];
  const sink = {
    head(h: RequestHead) {
      head = h;
      body = [];
    },
    body(chunk: Buffer) {
      body.push(Buffer.from(chunk));
    },
    end() {},
  };
  const edges = [0, ...cuts.filter((c) => c > 0 && c < raw.length).sort((a, b) => a - b), raw.length];
  let parser: RequestParser | undefined;
  try {
    for (let i = 0; i + 1 < edges.length; i++) {
      let buf: Buffer | undefined = raw.subarray(edges[i], edges[i + 1]);
      while (buf !== undefined && buf.length > 0) {
        parser ??= new RequestParser(sink, MAX_HEAD);
        buf = parser.feed(buf);
        if (!parser.done) break;
        parser = undefined;
        const h = head!;
        requests.push({
          method: h.method,
          target: h.url,
          headers: headerRecord(Object.entries(h.headers).map(([k, v]) => [k, String(v)])),
          host: (h.headers.host as string | undefined) || undefined,
          body: Buffer.concat(body).toString('latin1'),
        });
        if (!h.keepAlive) return { requests };
      }
    }
  } catch (err) {
    if (!(err instanceof RequestParseError)) throw err;
    return { requests, error: String(err.status) };
  }
  return { requests };
}

/** llhttp, through a `node:http` server with its default (strict) settings. */
export class NodeHttpParser {
  readonly #server = new Server();

  /** Hands `raw` to the server as one connection, and collects what it made of it. */
  async parse(raw: Buffer): Promise<Parsed> {
    const out: Parsed = { requests: [] };
    const pending: { req: IncomingMessage; res: ServerResponse; body: Buffer[] }[] = [];
    const socket = new Duplex({
      read() {},
      write(_chunk, _encoding, callback) {
        callback();
      },
    });
    const onRequest = (req: IncomingMessage, res: ServerResponse) => {
      if (req.socket !== socket) return;
      const entry = { req, res, body: [] as Buffer[] };
      pending.push(entry);
      req.on('data', (chunk: Buffer) => entry.body.push(chunk));
      req.on('end', () => res.end());
    };
    // The connection is destroyed only once the bodies parsed before the error have been read.
    const onClientError = (err: NodeJS.ErrnoException, s: Duplex) => {
      if (s === socket) out.error = err.code ?? 'error';
    };
    this.#server.on('request', onRequest);
    this.#server.on('clientError', onClientError);
    try {
      this.#server.emit('connection', socket);
      socket.push(raw);
      // Parsing is synchronous; bodies are read over a few turns of the event loop.
      let seen = -1;
      for (let quiet = 0; quiet < 4; ) {
        await turn();
        const now = pending.reduce((n, p) => n + p.body.length, pending.length);
        quiet = now === seen ? quiet + 1 : 0;
        seen = now;
      }
    } finally {
      this.#server.off('request', onRequest);
      this.#server.off('clientError', onClientError);
      socket.destroy();
    }
    for (const p of pending) {
      // llhttp found the message's end (set before the body's last bytes are read).
      if (!p.req.complete) break;
      const raw = p.req.rawHeaders;
      const pairs: [string, string][] = [];
      for (let i = 0; i < raw.length; i += 2) pairs.push([raw[i]!, raw[i + 1]!]);
      out.requests.push({
        method: p.req.method!,
        target: reduceTarget(p.req.url!),
        headers: headerRecord(pairs),
        // node:http leaves RFC 9112 §3.2.2 to the application: the target's authority wins over Host.
        host: authority(p.req.url!) ?? (p.req.headers.host || undefined),
        body: Buffer.concat(p.body).toString('latin1'),
      });
      if (!p.res.shouldKeepAlive) break;
    }
    return out;
  }
}

interface GoRequest {
  method: string;
  target: string;
  host: string;
  headers: [string, string][];
  body: string;
  close: boolean;
}

/**
 * The `go-http-parser` fixture process, one case at a time over its stdin and stdout: requests to its
 * `net/http` server by default, or, with the argument `responses`, answers read as its client does.
 */
export class GoParserProcess {
  readonly #child: ChildProcess;
  readonly #lines: Interface;
  #id = 0;
  #waiting = new Map<number, (line: Record<string, unknown>) => void>();

  constructor(binary: string, args: string[] = []) {
    this.#child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'inherit'] });
    this.#lines = createInterface({ input: this.#child.stdout! });
    this.#lines.on('line', (line) => {
      const result = JSON.parse(line) as { id: number };
      this.#waiting.get(result.id)?.(result);
      this.#waiting.delete(result.id);
    });
    this.#child.on('exit', (code) => {
      for (const [, resolve] of this.#waiting) resolve({ fatal: `the Go parser exited with ${code}` });
    });
  }

  /** The fixture's JSON answer for `raw`. */
  async send(raw: Buffer): Promise<Record<string, unknown>> {
    const id = ++this.#id;
    const result = await new Promise<Record<string, unknown>>((resolve) => {
      this.#waiting.set(id, resolve);
      this.#child.stdin!.write(`${JSON.stringify({ id, raw: raw.toString('base64') })}\n`);
    });
    if (result.fatal) throw new Error(String(result.fatal));
    return result;
  }

  close(): void {
    this.#child.stdin!.end();
    this.#lines.close();
  }
}

/** A latin1 string from the fixture's base64. */
export const latin1 = (base64: string) => Buffer.from(base64, 'base64').toString('latin1');

/** Go's `net/http` server, in the fixture process. */
export class GoHttpParser {
  readonly #process: GoParserProcess;

  constructor(binary: string) {
    this.#process = new GoParserProcess(binary);
  }

  async parse(raw: Buffer): Promise<Parsed> {
    const result = await this.#process.send(raw);
    const out: Parsed = { requests: [] };
    for (const r of result.requests as GoRequest[]) {
      out.requests.push({
        method: r.method,
        target: reduceTarget(latin1(r.target)),
        headers: headerRecord(r.headers.map(([name, value]) => [name, latin1(value)])),
        // Go takes the host from an absolute-form target, as RFC 9112 §3.2.2 says.
        host: r.host || undefined,
        body: latin1(r.body),
      });
      if (r.close) break;
    }
    if (result.error) out.error = String(result.error);
    return out;
  }

  close(): void {
    this.#process.close();
  }
}
