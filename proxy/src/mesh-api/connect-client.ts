/**
 * A client for the Connect protocol (https://connectrpc.com/docs/protocol/) over HTTP/2, limited to
 * what the proxy needs from the control plane: unary calls and bidirectional streams of binary
 * protobuf messages, without compression. Messages go in and come out as bytes; the codecs in
 * `protobuf/` turn them into objects.
 *
 * It replaces `@connectrpc/connect-node` in the proxy because that runtime, with protobuf-es
 * reflection beside it, holds about 15 MB of private memory in every sidecar (measured: 16 MB for an
 * idle Node HTTP server, 31 MB with those packages loaded) for two calls and one stream.
 *
 * One HTTP/2 connection is shared by all calls. It is opened on first use, replaced after it
 * closes, fails or receives GOAWAY, and pinged every `pingIntervalMs` while calls are open: an
 * unanswered ping destroys it, which fails its calls as `unavailable` instead of leaving them
 * waiting on a dead peer. The connection keeps the process alive only while a call is open.
 *
 * @module
 */
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect,
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type SecureClientSessionOptions,
} from 'node:http2';
import { codeFromHttpStatus, errorFromJson, MeshCallError } from './connect-error.ts';
import {
  COMPRESSED_FLAG,
  createEnvelopeReader,
  END_STREAM_FLAG,
  encodeEnvelope,
  endStreamError,
} from './envelope.ts';

export interface ConnectClientOptions {
  /** Where the service is mounted, e.g. `http://control-plane:8081/`; procedures are resolved against it. */
  baseUrl: URL;
  /** Extra request headers, asked for at every call (a bearer token that rotates, say). */
  headers?: () => Record<string, string>;
  /** How often an open connection is pinged; default 15 s. */
  pingIntervalMs?: number;
  /** How long a ping may go unanswered before the connection is presumed dead; default 15 s. */
  pingTimeoutMs?: number;
  /** The largest message (or unary response body) accepted; default 64 MiB. */
  maxMessageBytes?: number;
  /**
   * For an https `baseUrl`: TLS settings such as `ca`. By default the server is verified against
   * Node's trust store (which `NODE_EXTRA_CA_CERTS` extends).
   */
  tls?: Pick<SecureClientSessionOptions, 'ca' | 'servername'>;
}

export interface UnaryOptions {
  /** The call fails as `deadline_exceeded` after this long; the server is told the same deadline. */
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface ConnectClient {
  /** Sends one message, returns the answer's bytes. @throws MeshCallError */
  unary(procedure: string, request: Uint8Array, options: UnaryOptions): Promise<Buffer>;
  /**
   * Opens a bidirectional stream: `requests` are sent as they come (the request side is closed when
   * they end), the server's messages are yielded. Aborting `signal` cancels the stream and fails the
   * iteration with the signal's reason when that is a MeshCallError, else with `canceled`.
   * Leaving the iteration early cancels the stream too.
   *
   * @throws MeshCallError
   */
  stream(
    procedure: string,
    requests: AsyncIterable<Uint8Array>,
    options: { signal: AbortSignal },
  ): AsyncIterable<Buffer>;
  /** Closes the connection; open calls fail as `unavailable`. */
  close(): void;
}

interface Connection {
  session: ClientHttp2Session;
  open: number;
}

/** Errors from the connection or the stream itself (refused, reset, TLS): the peer is unavailable. */
function fromNodeError(err: unknown): MeshCallError {
  if (err instanceof MeshCallError) return err;
  const e = err as NodeJS.ErrnoException;
  return new MeshCallError('unavailable', e?.code ? `${e.code}: ${e.message}` : String(e?.message ?? err), {
    cause: err,
  });
}

function abortError(signal: AbortSignal): MeshCallError {
  return signal.reason instanceof MeshCallError
    ? signal.reason
    : new MeshCallError('canceled', 'the call was canceled', { cause: signal.reason });
}

export function createConnectClient(options: ConnectClientOptions): ConnectClient {
  const pingIntervalMs = options.pingIntervalMs ?? 15_000;
  const pingTimeoutMs = options.pingTimeoutMs ?? 15_000;
  const maxBytes = options.maxMessageBytes ?? 64 * 1024 * 1024;
  const base = options.baseUrl.pathname.replace(/\/+$/, '');
  let current: Connection | undefined;

  function connection(): Connection {
    if (current && !current.session.closed && !current.session.destroyed) return current;
    const session = connect(options.baseUrl.origin, options.tls ?? {});
    const conn: Connection = { session, open: 0 };
    const forget = () => {
      if (current === conn) current = undefined;
      clearInterval(pinger);
    };
    // A failed connection fails its streams, which report it; the session's own error is the same news.
    session.on('error', forget);
    session.on('close', forget);
    // After GOAWAY the streams in flight may finish, but new calls need a new connection.
    session.on('goaway', forget);
    const pinger = setInterval(() => {
      if (conn.open === 0 || session.destroyed) return;
      const deadline = setTimeout(
        () => session.destroy(new Error(`no answer to an HTTP/2 ping within ${pingTimeoutMs} ms`)),
        pingTimeoutMs,
      );
      deadline.unref();
      const sent = session.ping((err) => {
        clearTimeout(deadline);
        if (err && !session.destroyed) session.destroy(err);
      });
      if (!sent) clearTimeout(deadline);
    }, pingIntervalMs);
    pinger.unref();
    session.unref();
    current = conn;
    return conn;
  }

  /** Opens a stream on the shared connection; the connection holds the process open while any is. */
  function request(procedure: string, contentType: string, extra: OutgoingHttpHeaders): ClientHttp2Stream {
    const conn = connection();
    const stream = conn.session.request({
      ...options.headers?.(),
      ...extra,
      [constants.HTTP2_HEADER_METHOD]: 'POST',
      [constants.HTTP2_HEADER_PATH]: `${base}${procedure}`,
      'content-type': contentType,
      'connect-protocol-version': '1',
    });
    if (conn.open++ === 0) conn.session.ref();
    stream.once('close', () => {
      if (--conn.open === 0 && !conn.session.destroyed) conn.session.unref();
    });
    return stream;
  }

  function unary(procedure: string, body: Uint8Array, opts: UnaryOptions): Promise<Buffer> {
    return new Promise<Buffer>((resolve, reject) => {
      if (opts.signal?.aborted) return reject(abortError(opts.signal));
      let stream: ClientHttp2Stream;
      try {
        stream = request(procedure, 'application/proto', { 'connect-timeout-ms': String(opts.timeoutMs) });
      } catch (err) {
        return reject(fromNodeError(err));
      }
      let settled = false;
      let head: IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      let size = 0;
      const onAbort = () => finish(abortError(opts.signal!));
      const timer = setTimeout(
        () => finish(new MeshCallError('deadline_exceeded', `no answer within ${opts.timeoutMs} ms`)),
        opts.timeoutMs,
      );
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      function finish(err: MeshCallError | undefined, value?: Buffer): void {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
        if (err) reject(err);
        else resolve(value!);
      }
      stream.on('response', (h) => {
        head = h;
      });
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) {
          finish(
            new MeshCallError('resource_exhausted', `the response is over the limit of ${maxBytes} bytes`),
          );
          return;
        }
        chunks.push(chunk);
      });
      stream.on('end', () => {
        const body = Buffer.concat(chunks);
        const status = Number(head?.[constants.HTTP2_HEADER_STATUS]);
        if (status !== 200) {
          finish(errorFromJson(body.toString('utf8'), codeFromHttpStatus(status)));
          return;
        }
        const wrongType = contentTypeError(head!, 'application/proto');
        if (wrongType) {
          finish(wrongType);
          return;
        }
        finish(undefined, body);
      });
      stream.on('error', (err) => finish(fromNodeError(err)));
      stream.on('close', () =>
        finish(
          new MeshCallError(
            'unavailable',
            `the stream closed before the answer (HTTP/2 code ${stream.rstCode})`,
          ),
        ),
      );
      stream.end(body);
    });
  }

  async function* bidi(
    procedure: string,
    requests: AsyncIterable<Uint8Array>,
    opts: { signal: AbortSignal },
  ): AsyncGenerator<Buffer> {
    const { signal } = opts;
    if (signal.aborted) throw abortError(signal);
    let stream: ClientHttp2Stream;
    try {
      stream = request(procedure, 'application/connect+proto', {});
    } catch (err) {
      throw fromNodeError(err);
    }
    // Errors reach the caller through the iteration below; one that comes after it (the request side
    // failing late, say) must not become an uncaught exception.
    stream.on('error', () => {});
    const onAbort = () => stream.destroy();
    signal.addEventListener('abort', onAbort, { once: true });
    const source = requests[Symbol.asyncIterator]();
    // The request side runs beside the response side; its failure ends the stream.
    void (async () => {
      for (;;) {
        const next = await source.next();
        if (next.done || stream.destroyed) break;
        if (!stream.write(encodeEnvelope(next.value))) {
          await new Promise((resolve) => {
            stream.once('drain', resolve);
            stream.once('close', resolve);
          });
        }
      }
      if (!stream.destroyed) stream.end();
    })().catch((err: unknown) => stream.destroy(err as Error));
    try {
      const head = await responseHead(stream);
      const status = Number(head[constants.HTTP2_HEADER_STATUS]);
      if (status !== 200) {
        throw errorFromJson(await readText(stream, 64 * 1024), codeFromHttpStatus(status));
      }
      const wrongType = contentTypeError(head, 'application/connect+proto');
      if (wrongType) throw wrongType;
      const reader = createEnvelopeReader(maxBytes);
      let ended = false;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        for (const envelope of reader.push(chunk)) {
          if (ended)
            throw new MeshCallError('internal', 'the server sent a message after the end of the stream');
          if (envelope.flags & END_STREAM_FLAG) {
            const err = endStreamError(envelope.data);
            if (err) throw err;
            ended = true;
          } else if (envelope.flags & COMPRESSED_FLAG) {
            throw new MeshCallError(
              'internal',
              'the server sent a compressed message, but no compression was agreed',
            );
          } else yield envelope.data;
        }
      }
      if (!ended) {
        throw new MeshCallError(
          'unavailable',
          `the stream ended before the server finished it (HTTP/2 code ${stream.rstCode ?? 0})`,
        );
      }
    } catch (err) {
      if (signal.aborted) throw abortError(signal);
      throw fromNodeError(err);
    } finally {
      signal.removeEventListener('abort', onAbort);
      if (!stream.closed) stream.close(constants.NGHTTP2_CANCEL);
      void source.return?.();
    }
  }

  return {
    unary,
    stream: bidi,
    close() {
      current?.session.destroy();
      current = undefined;
    },
  };
}

/** Why a successful response cannot be read as `expected` (a media type, lower case), if it cannot. */
function contentTypeError(head: IncomingHttpHeaders, expected: string): MeshCallError | undefined {
  const type = String(head['content-type'] ?? '');
  if (type.split(';', 1)[0]!.trimEnd().toLowerCase() === expected) return undefined;
  return new MeshCallError('internal', `the response has content type "${type}", not ${expected}`);
}

/** The response headers, or the reason there will be none. */
function responseHead(stream: ClientHttp2Stream): Promise<IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const onResponse = (head: IncomingHttpHeaders) => {
      cleanup();
      resolve(head);
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onClose = () => {
      cleanup();
      reject(
        new MeshCallError(
          'unavailable',
          `the stream closed before a response (HTTP/2 code ${stream.rstCode})`,
        ),
      );
    };
    const cleanup = () => {
      stream.off('response', onResponse);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    stream.on('response', onResponse);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

/** A short body (an error's), read up to `limit` bytes. */
async function readText(stream: ClientHttp2Stream, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (size < limit) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks).subarray(0, limit).toString('utf8');
}
