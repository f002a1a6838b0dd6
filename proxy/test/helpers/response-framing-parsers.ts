/**
 * Three HTTP/1.1 response parsers, each reduced to what it made of the bytes a client read on one
 * connection: the proxy's upstream client (`ResponseParser`), llhttp as `node:http`'s client runs it,
 * and Go's `net/http` client (`http.ReadResponse`, in the `go-http-parser` fixture). For the response
 * framing differential test: where the proxy and a client in front of the same server end a response
 * at different bytes, one of them reads part of a body as a response, or a response as a body.
 *
 * @module
 */
import { createRequire } from 'node:module';
import { HttpParseError, ResponseParser } from '../../src/upstream/http1-response-parser.ts';
import { GoParserProcess, latin1, headerRecord as requestHeaderRecord } from './framing-parsers.ts';

function headerRecord(pairs: [string, string][]): Record<string, string> {
  return requestHeaderRecord(pairs.filter(([name]) => name.toLowerCase() !== 'connection'));
}

// The llhttp binding node:http's own client uses; not a public API, hence the loose type.
// biome-ignore lint/suspicious/noExplicitAny: an internal module without type declarations
const { HTTPParser } = createRequire(import.meta.url)('_http_common') as { HTTPParser: any };

/** A response as a parser read it: what a client acts on, the framing fields left to the body. */
export interface ParsedResponse {
  status: number;
  /**
   * Field values by lower-case name (repeated fields joined with ", "), without the framing fields and
   * `Connection` (which Go's client consumes: `keepAlive` compares it).
   */
  headers: Record<string, string>;
  body: string;
  /** Whether the connection may carry another request afterwards. */
  keepAlive: boolean;
}

/** The responses a parser read, in order, up to an error, the end of the bytes, or one that closes. */
export interface ParsedResponses {
  responses: ParsedResponse[];
  error?: string;
}

/**
 * The proxy's parser, fed `raw` in pieces cut at `cuts` (offsets), one parser per response as its
 * transport does, going on after a response only while its connection may be reused. The end of
 * `raw` is the close of the connection.
 */
export function parseResponsesWithProxy(raw: Buffer, cuts: number[] = []): ParsedResponses {
  const responses: ParsedResponse[] = [];
  let current: ParsedResponse | undefined;
  let body: Buffer[] = [];
  const sink = {
    head(h: { statusCode: number; headers: Record<string, string | string[]>; keepAlive: boolean }) {
      const pairs = Object.entries(h.headers).map(([k, v]): [string, string] => [
        k,
        Array.isArray(v) ? v.join(', ') : v,
      ]);
      current = { status: h.statusCode, headers: headerRecord(pairs), body: '', keepAlive: h.keepAlive };
      body = [];
    },
    body(chunk: Buffer) {
      body.push(Buffer.from(chunk));
    },
    end() {},
  };
  const edges = [0, ...cuts.filter((c) => c > 0 && c < raw.length).sort((a, b) => a - b), raw.length];
  let parser: ResponseParser | undefined;
  try {
    for (let i = 0; i + 1 < edges.length; i++) {
      let buf: Buffer | undefined = raw.subarray(edges[i], edges[i + 1]);
      while (buf !== undefined && buf.length > 0) {
        parser ??= new ResponseParser(sink);
        buf = parser.feed(buf);
        if (!parser.done) break;
        if (!settle()) return { responses };
      }
    }
    // The connection closed: that ends a body delimited by the close, and is an error anywhere else.
    if (parser) {
      parser.end();
      settle();
    }
  } catch (err) {
    if (!(err instanceof HttpParseError)) throw err;
    return { responses, error: err.message };
  }
  return { responses };

  /** Records the finished response; returns whether the connection goes on to another. */
  function settle(): boolean {
    const done = current!;
    done.body = Buffer.concat(body).toString('latin1');
    responses.push(done);
    parser = undefined;
    current = undefined;
    return done.keepAlive;
  }
}

/**
 * llhttp with the settings `node:http`'s client gives it (strict, 16 KiB heads), reached through
 * `_http_common`: the client itself answers one request at a time and does not show where a
 * response's bytes ended. Interim 1xx answers are skipped, as the client does.
 */
export function parseResponsesWithLlhttp(raw: Buffer): ParsedResponses {
  const out: ParsedResponses = { responses: [] };
  const parser = new HTTPParser();
  parser.initialize(HTTPParser.RESPONSE, {}, 16 * 1024, 0);
  let current: { status: number; pairs: string[]; body: Buffer[]; keepAlive: boolean } | undefined;
  let partial: string[] = [];
  let stop = false;
  parser[HTTPParser.kOnHeaders] = (headers: string[]) => {
    // After the head, these are trailer fields, which the client keeps apart.
    if (!current) partial = partial.concat(headers);
  };
  parser[HTTPParser.kOnHeadersComplete] = (
    _major: number,
    _minor: number,
    headers: string[] | undefined,
    _method: unknown,
    _url: unknown,
    status: number,
    _message: unknown,
    _upgrade: boolean,
    keepAlive: boolean,
  ) => {
    current = { status, pairs: headers ?? partial, body: [], keepAlive };
    partial = [];
    return 0;
  };
  parser[HTTPParser.kOnBody] = (chunk: Buffer) => {
    current?.body.push(Buffer.from(chunk));
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    const done = current!;
    current = undefined;
    if (stop || (done.status >= 100 && done.status < 200 && done.status !== 101)) return;
    if (done.status === 101) {
      // node:http refuses an upgrade it was not asked for.
      out.error = 'switching protocols';
      stop = true;
      return;
    }
    const pairs: [string, string][] = [];
    for (let i = 0; i < done.pairs.length; i += 2) pairs.push([done.pairs[i]!, done.pairs[i + 1]!]);
    out.responses.push({
      status: done.status,
      headers: headerRecord(pairs),
      body: Buffer.concat(done.body).toString('latin1'),
      keepAlive: done.keepAlive,
    });
    // The client hands the connection back only when it may be reused; nothing after is read.
    if (!done.keepAlive) stop = true;
  };
  try {
    const result = parser.execute(raw);
    if (result instanceof Error) {
      if (!stop) out.error = (result as NodeJS.ErrnoException).code ?? result.message;
      return out;
    }
    const end = parser.finish();
    if (end instanceof Error && !stop) out.error = (end as NodeJS.ErrnoException).code ?? end.message;
    else if (current && !stop) out.error = 'the connection closed before the response was complete';
  } finally {
    parser.close();
  }
  return out;
}

interface GoResponse {
  status: number;
  headers: [string, string][];
  body: string;
  close: boolean;
}

/** Go's `net/http` client's reading of responses, in the fixture process. */
export class GoResponseParser {
  readonly #process: GoParserProcess;

  constructor(binary: string) {
    this.#process = new GoParserProcess(binary, ['responses']);
  }

  async parse(raw: Buffer): Promise<ParsedResponses> {
    const result = await this.#process.send(raw);
    const out: ParsedResponses = {
      responses: (result.responses as GoResponse[]).map((r) => ({
        status: r.status,
        headers: headerRecord(r.headers.map(([name, value]) => [name, latin1(value)])),
        body: latin1(r.body),
        keepAlive: !r.close,
      })),
    };
    if (result.error) out.error = String(result.error);
    return out;
  }

  close(): void {
    this.#process.close();
  }
}
