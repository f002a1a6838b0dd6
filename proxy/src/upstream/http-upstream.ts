/**
 * The HTTP upstream: forwards Streamable HTTP exchanges to an MCP server (over `node:http` in a
 * sidecar, through the egress transport for remote servers), streaming responses back chunk by chunk (SSE is never buffered). The client's credentials are not
 * forwarded: the `authorization` header is already gone, and cookies are dropped here.
 *
 * @module
 */

import type { Readable } from 'node:stream';
import { TesseraError, type TesseraErrorCode } from '../errors.ts';
import type { ResponseWriter } from '../http1/outbound-response.ts';
import { errorBody, type JsonRpcId } from '../server/jsonrpc.ts';
import type { Log } from '../telemetry/log.ts';
import { answerError } from './answer-error.ts';
import { createHttp1Transport } from './http1-transport.ts';
import { observeResponse } from './response-observer.ts';
import { unknownResultType, unknownResultTypeMessage } from './result-type.ts';
import { createSessionRegistry, type SessionRegistry } from './session-registry.ts';
import type { Exchange, ForwardResult, Upstream } from './upstream.ts';
import type { UpstreamResponse, UpstreamTransport } from './upstream-transport.ts';

export interface HttpUpstreamOptions {
  url: URL;
  /** Upper bound for receiving response headers; SSE bodies may then stream for as long as they need. */
  headersTimeoutMs?: number;
  /** How requests are sent; default: `node:http` keep-alive connections to the URL's origin. */
  transport?: UpstreamTransport;
  log: Log;
  /** The legacy sessions known to this upstream; default: a registry of its own. */
  sessions?: SessionRegistry;
}

/** Request headers passed to the upstream; everything else (cookies, hop-by-hop, proxies') stays behind. */
const forwardedRequestHeaders = [
  'accept',
  'content-type',
  'mcp-protocol-version',
  'mcp-method',
  'mcp-name',
  'traceparent',
  'tracestate',
  'baggage',
  'user-agent',
];

/** Legacy-only request headers: a modern request has no session and no resumable stream. */
const legacyRequestHeaders = ['mcp-session-id', 'last-event-id'];

const NONE: readonly string[] = [];

/** The most of an upstream 400 body the proxy reads to tell a lost session from a bad request. */
const MAX_INSPECTED_BODY = 64 * 1024;
/** Modern JSON answers up to this size have their resultType checked; larger ones stream unchecked. */
const MAX_CHECKED_RESULT = 1024 * 1024;

/**
 * Reads the body until it ends or passes `cap` bytes; in the second case the body is left paused with
 * the rest unread. Rejects when the body fails.
 */
function collectUpTo(body: Readable, cap: number): Promise<{ chunks: Buffer[]; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose);
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size <= cap) return;
      body.pause();
      done();
      resolve({ chunks, ended: false });
    };
    const onEnd = () => {
      done();
      resolve({ chunks, ended: true });
    };
    const onError = (err: Error) => {
      done();
      reject(err);
    };
    const onClose = () => {
      if (body.readableEnded) return;
      done();
      reject(new Error('the upstream closed the stream'));
    };
    body.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose);
  });
}

function errorResult(
  res: ResponseWriter,
  id: JsonRpcId | undefined,
  error: TesseraError,
  sessionId: string | undefined,
): ForwardResult {
  const body = errorBody(id, error.rpcCode, error.message);
  res.writeHead(error.httpStatus, { 'content-type': 'application/json' }).end(body);
  return {
    status: error.httpStatus,
    errorCode: error.rpcCode,
    responseBytes: Buffer.byteLength(body),
    sessionId,
    reason: error.message,
    failure: error.code === 'TESSERA_SESSION_NOT_FOUND' ? undefined : error.code,
  };
}

function sessionNotFound(sessionId: string): TesseraError {
  return new TesseraError(
    'TESSERA_SESSION_NOT_FOUND',
    `session "${sessionId}" is unknown or has ended; start a new one with initialize`,
  );
}

/** Response headers passed back to the client. */
const forwardedResponseHeaders = new Set([
  'content-type',
  'cache-control',
  'mcp-session-id',
  'mcp-protocol-version',
  'x-accel-buffering',
  'retry-after',
]);

/** Maps a failed upstream request to the catalogue: the proxy's own refusals keep their code. */
function toUpstreamError(err: unknown): TesseraError {
  if (err instanceof TesseraError) return err;
  const e = err as { code?: string; message: string };
  if (
    e.code === 'UPSTREAM_HEADERS_TIMEOUT' ||
    e.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    e.code === 'UND_ERR_CONNECT_TIMEOUT'
  ) {
    return new TesseraError('TESSERA_UPSTREAM_TIMEOUT', 'the MCP server did not answer in time');
  }
  if (e.code === 'UPSTREAM_BAD_RESPONSE') {
    return new TesseraError(
      'TESSERA_UPSTREAM_UNAVAILABLE',
      `the MCP server sent a malformed HTTP response (${e.message})`,
    );
  }
  if (e.code === 'UND_ERR_REDIRECT_MAX') {
    return new TesseraError(
      'TESSERA_EGRESS_REFUSED',
      'egress refused: the MCP server redirected too many times',
    );
  }
  if (e.code !== undefined && /CERT|SIGNATURE|TLS|SSL|ALTNAME/.test(e.code)) {
    return new TesseraError(
      'TESSERA_UPSTREAM_UNAVAILABLE',
      `TLS verification of the MCP server failed (${e.code})`,
    );
  }
  return new TesseraError(
    'TESSERA_UPSTREAM_UNAVAILABLE',
    `the MCP server is unreachable (${e.code ?? e.message})`,
  );
}

/**
 * Streams an upstream body to the client chunk by chunk, at the client's pace (the upstream is paused
 * while the client's buffer is full). Event-driven rather than `for await`: an async iterator costs a
 * promise per chunk, on every proxied request. Resolves when the body ended, failed, or the client
 * went away; never rejects.
 */
function relayBody(
  body: Readable,
  res: ResponseWriter,
  observer: { write(chunk: Buffer): void },
): Promise<{ bytes: number; error: Error | undefined }> {
  return new Promise((resolve) => {
    let bytes = 0;
    let settled = false;
    const finish = (error: Error | undefined) => {
      if (settled) return;
      settled = true;
      body.off('data', onData).off('end', onEnd).off('error', onError).off('close', onBodyClose);
      res.off('drain', onDrain).off('close', onClientClose);
      resolve({ bytes, error });
    };
    const onData = (chunk: Buffer) => {
      bytes += chunk.length;
      observer.write(chunk);
      if (!res.write(chunk)) body.pause();
    };
    const onDrain = () => body.resume();
    const onEnd = () => finish(undefined);
    const onError = (err: Error) => finish(err);
    // A body destroyed without an error (an aborted request) still ends the relay.
    const onBodyClose = () =>
      finish(body.readableEnded ? undefined : new Error('the upstream closed the stream'));
    const onClientClose = () => {
      body.destroy();
      finish(new Error('the client went away'));
    };
    body.on('data', onData).on('end', onEnd).on('error', onError).on('close', onBodyClose);
    res.on('drain', onDrain).on('close', onClientClose);
  });
}

export function createHttpUpstream(options: HttpUpstreamOptions): Upstream {
  const transport =
    options.transport ??
    createHttp1Transport({
      url: options.url,
      connections: 64,
      headersTimeoutMs: options.headersTimeoutMs ?? 60_000,
    });
  const path = `${options.url.pathname}${options.url.search}`;
  const sessions = options.sessions ?? createSessionRegistry();

  async function forward(exchange: Exchange, res: ResponseWriter): Promise<ForwardResult> {
    const headers: Record<string, string> = {};
    for (const name of forwardedRequestHeaders) {
      const v = exchange.headers[name];
      if (typeof v === 'string') headers[name] = v;
    }
    for (const name in exchange.headers) {
      // Mirrored tool arguments (2026-07-28 §Custom Headers): intermediaries forward them.
      const v = exchange.headers[name];
      if (name.startsWith('mcp-param-') && typeof v === 'string') headers[name] = v;
    }
    if (exchange.era === 'legacy') {
      for (const name of legacyRequestHeaders) {
        const v = exchange.headers[name];
        if (typeof v === 'string') headers[name] = v;
      }
    }
    const id = exchange.message?.kind === 'request' ? exchange.message.id : undefined;
    const { sessionId } = exchange;
    if (sessionId !== undefined && !sessions.owns(sessionId, exchange.principal)) {
      return errorResult(res, id, sessionNotFound(sessionId), undefined);
    }
    // Headers the proxy adds itself (upstream credentials) go after the filter, and are dropped if a
    // redirect leaves the upstream's origin.
    const own = exchange.upstreamHeaders;
    if (own) Object.assign(headers, own);
    let upstream: UpstreamResponse;
    try {
      upstream = await transport.request({
        method: exchange.httpMethod,
        path,
        headers,
        body: exchange.body,
        signal: exchange.signal,
        stripOnCrossOriginRedirect: own ? Object.keys(own) : NONE,
      });
    } catch (err) {
      return answerError(res, exchange, toUpstreamError(err));
    }

    if (sessionId !== undefined && (upstream.statusCode === 404 || upstream.statusCode === 400)) {
      // The upstream lost the session (a restart, an expiry). Some servers say 400 where the spec says 404;
      // the client only starts over on a 404, so a 400 that is about the session becomes one.
      const text = await readBounded(upstream.body);
      if (upstream.statusCode === 404 || /session/i.test(text)) {
        sessions.remove(sessionId);
        return errorResult(res, id, sessionNotFound(sessionId), undefined);
      }
      const contentType = upstream.headers['content-type'];
      res.writeHead(400, typeof contentType === 'string' ? { 'content-type': contentType } : {}).end(text);
      return { status: 400, errorCode: 0, responseBytes: Buffer.byteLength(text), sessionId, reason: '' };
    }
    if (exchange.httpMethod === 'DELETE' && sessionId !== undefined && upstream.statusCode < 300)
      sessions.remove(sessionId);

    const out: Record<string, string> = {};
    for (const name in upstream.headers) {
      const value = upstream.headers[name];
      if (forwardedResponseHeaders.has(name) && typeof value === 'string') out[name] = value;
    }
    const contentType = out['content-type'] ?? '';
    const minted = out['mcp-session-id'];
    if (
      minted !== undefined &&
      exchange.era === 'legacy' &&
      exchange.message?.kind === 'request' &&
      exchange.message.method === 'initialize' &&
      upstream.statusCode < 300
    )
      sessions.add(minted, exchange.principal);
    const sse = contentType.startsWith('text/event-stream');
    if (sse) out['x-accel-buffering'] = 'no';
    const length = upstream.headers['content-length'];
    if (!sse && typeof length === 'string') out['content-length'] = length;
    // A modern JSON result is read whole and its resultType checked before the client sees it; one
    // larger than MAX_CHECKED_RESULT streams on unchecked.
    let held: Buffer[] = [];
    if (
      exchange.era === 'modern' &&
      upstream.statusCode === 200 &&
      contentType.startsWith('application/json')
    ) {
      let read: { chunks: Buffer[]; ended: boolean };
      try {
        read = await collectUpTo(upstream.body, MAX_CHECKED_RESULT);
      } catch (err) {
        const text = `upstream stream failed: ${(err as Error).message}`;
        return answerError(res, exchange, new TesseraError('TESSERA_UPSTREAM_UNAVAILABLE', text));
      }
      if (read.ended) {
        const body = Buffer.concat(read.chunks);
        const unknown = unknownResultType(body);
        if (unknown !== undefined) {
          const text = unknownResultTypeMessage(unknown);
          options.log('warn', 'upstream result with an unknown resultType refused', { resultType: unknown });
          return answerError(res, exchange, new TesseraError('TESSERA_UPSTREAM_UNAVAILABLE', text));
        }
        out['content-length'] = String(body.length);
        res.writeHead(upstream.statusCode, out).end(body);
        const observer = observeResponse(contentType, id);
        observer.write(body);
        const errorCode = observer.errorCode();
        return {
          status: 200,
          errorCode,
          responseBytes: body.length,
          sessionId: minted ?? sessionId,
          reason: '',
        };
      }
      held = read.chunks;
    }
    res.writeHead(upstream.statusCode, out);
    if (sse) res.flushHeaders();

    const observer = observeResponse(contentType, id);
    let heldBytes = 0;
    for (const chunk of held) {
      observer.write(chunk);
      res.write(chunk);
      heldBytes += chunk.length;
    }
    const relayed = relayBody(upstream.body, res, observer);
    if (held.length > 0) upstream.body.resume();
    const { bytes: relayedBytes, error } = await relayed;
    const bytes = heldBytes + relayedBytes;
    let reason = '';
    let failure: TesseraErrorCode | undefined;
    if (error) {
      reason = exchange.signal.aborted ? 'client disconnected' : `upstream stream failed: ${error.message}`;
      if (!exchange.signal.aborted) {
        failure = 'TESSERA_UPSTREAM_UNAVAILABLE';
        options.log('warn', 'upstream response failed mid-stream', { error: error.message });
      }
    }
    res.end();
    return {
      status: upstream.statusCode,
      errorCode: observer.errorCode(),
      responseBytes: bytes,
      sessionId: minted ?? sessionId,
      reason,
      failure,
    };
  }

  async function readBounded(body: Readable): Promise<string> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of body) {
      if (size < MAX_INSPECTED_BODY) chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    return Buffer.concat(chunks).subarray(0, MAX_INSPECTED_BODY).toString('utf8');
  }

  return {
    forward,
    async close() {
      await transport.close();
    },
  };
}
