/**
 * The sidecar upstream: forwards Streamable HTTP exchanges to an MCP server over HTTP with undici,
 * streaming responses back chunk by chunk (SSE is never buffered). The client's credentials are not
 * forwarded: the `authorization` header is already gone, and cookies are dropped here.
 *
 * @module
 */
import type { ServerResponse } from 'node:http';
import { Pool } from 'undici';
import { TesseraError, type TesseraErrorCode } from '../errors.ts';
import { errorBody } from '../server/jsonrpc.ts';
import type { Log } from '../telemetry/log.ts';
import { observeResponse } from './response-observer.ts';
import type { Exchange, ForwardResult, Upstream } from './upstream.ts';

export interface HttpUpstreamOptions {
  url: URL;
  /** Upper bound for receiving response headers; SSE bodies may then stream for as long as they need. */
  headersTimeoutMs?: number;
  log: Log;
}

/** Request headers passed to the upstream; everything else (cookies, hop-by-hop, proxies') stays behind. */
const forwardedRequestHeaders = [
  'accept',
  'content-type',
  'mcp-session-id',
  'mcp-protocol-version',
  'last-event-id',
  'traceparent',
  'tracestate',
  'baggage',
  'user-agent',
];

/** Response headers passed back to the client. */
const forwardedResponseHeaders = new Set([
  'content-type',
  'cache-control',
  'mcp-session-id',
  'mcp-protocol-version',
  'x-accel-buffering',
  'retry-after',
]);

export function createHttpUpstream(options: HttpUpstreamOptions): Upstream {
  const pool = new Pool(options.url.origin, {
    connections: 64,
    headersTimeout: options.headersTimeoutMs ?? 60_000,
    // SSE streams may be idle for long stretches; the client's disconnect ends them.
    bodyTimeout: 0,
  });
  const path = `${options.url.pathname}${options.url.search}`;

  async function forward(exchange: Exchange, res: ServerResponse): Promise<ForwardResult> {
    const headers: Record<string, string> = {};
    for (const name of forwardedRequestHeaders) {
      const v = exchange.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    const id = exchange.message?.kind === 'request' ? exchange.message.id : undefined;
    let upstream: Awaited<ReturnType<Pool['request']>>;
    try {
      upstream = await pool.request({
        method: exchange.httpMethod,
        path,
        headers,
        body: exchange.body,
        signal: exchange.signal,
      });
    } catch (err) {
      const e = err as { code?: string; message: string };
      const timeout = e.code === 'UND_ERR_HEADERS_TIMEOUT';
      const error = new TesseraError(
        timeout ? 'TESSERA_UPSTREAM_TIMEOUT' : 'TESSERA_UPSTREAM_UNAVAILABLE',
        timeout
          ? 'the MCP server did not answer in time'
          : `the MCP server is unreachable (${e.code ?? e.message})`,
      );
      if (!exchange.signal.aborted && !res.headersSent) {
        const body = errorBody(id, error.rpcCode, error.message);
        res.writeHead(error.httpStatus, { 'content-type': 'application/json' }).end(body);
        return {
          status: error.httpStatus,
          errorCode: error.rpcCode,
          responseBytes: Buffer.byteLength(body),
          sessionId: exchange.sessionId,
          reason: error.message,
          failure: error.code,
        };
      }
      return {
        status: 499,
        errorCode: 0,
        responseBytes: 0,
        sessionId: exchange.sessionId,
        reason: 'client disconnected',
      };
    }

    const out: Record<string, string> = {};
    for (const [name, value] of Object.entries(upstream.headers)) {
      if (forwardedResponseHeaders.has(name) && typeof value === 'string') out[name] = value;
    }
    const contentType = out['content-type'] ?? '';
    const sse = contentType.startsWith('text/event-stream');
    if (sse) out['x-accel-buffering'] = 'no';
    const length = upstream.headers['content-length'];
    if (!sse && typeof length === 'string') out['content-length'] = length;
    res.writeHead(upstream.statusCode, out);
    if (sse) res.flushHeaders();

    const observer = observeResponse(contentType, id);
    let bytes = 0;
    let reason = '';
    let failure: TesseraErrorCode | undefined;
    try {
      for await (const chunk of upstream.body) {
        const buf = chunk as Buffer;
        bytes += buf.length;
        observer.write(buf);
        // Respect the client's pace: wait for drain instead of queueing an unbounded amount in memory.
        if (!res.write(buf)) await new Promise<void>((r) => res.once('drain', r).once('close', r));
        if (res.destroyed) break;
      }
    } catch (err) {
      reason = exchange.signal.aborted
        ? 'client disconnected'
        : `upstream stream failed: ${(err as Error).message}`;
      if (!exchange.signal.aborted) {
        failure = 'TESSERA_UPSTREAM_UNAVAILABLE';
        options.log('warn', 'upstream response failed mid-stream', { error: (err as Error).message });
      }
    }
    res.end();
    const sessionId = out['mcp-session-id'] ?? exchange.sessionId;
    return {
      status: upstream.statusCode,
      errorCode: observer.errorCode(),
      responseBytes: bytes,
      sessionId,
      reason,
      failure,
    };
  }

  return {
    forward,
    async close() {
      await pool.close();
    },
  };
}
