/**
 * The MCP endpoint pipeline. For every request, in order:
 *   1. no complete configuration → 503, deny everything;
 *   2. authenticate the bearer token (401 with an RFC 9728 challenge);
 *   3. validate the HTTP framing and parse the JSON-RPC body (4xx, -32700/-32600);
 *   4. decide the server grant (403);
 *   5. forward to the upstream, streaming the answer;
 *   6. record one audit event, and the same facts in the metrics and a debug log line.
 *
 * Every request gets a W3C trace context: the caller's trace is continued with the proxy's own span as
 * the parent of the upstream request, or a new trace is started when the caller sent no valid
 * `traceparent`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AuditOutcome, AuditRecord } from '../audit/audit-event.ts';
import { TesseraError, type TesseraErrorCode } from '../errors.ts';
import type { ProxyConfig } from '../ir/proxy-config.ts';
import { authenticate, bearerToken, type Principal } from '../policies/authn.ts';
import { decideGrant } from '../policies/grant.ts';
import { missingScopes } from '../policies/scope.ts';
import type { Log } from '../telemetry/log.ts';
import {
  createProxyMetrics,
  type DecisionReason,
  observeRequest,
  type ProxyMetrics,
  upstreamErrorKind,
} from '../telemetry/metrics.ts';
import { continueTrace, type TraceContext } from '../telemetry/trace-context.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { errorBody, type JsonRpcMessage, parseJsonRpc, targetOf } from './jsonrpc.ts';
import { bearerChallenge } from './protected-resource.ts';
import { readBody } from './read-body.ts';

export interface McpEndpointOptions {
  upstream: Upstream;
  maxBodyBytes: number;
  audit: (record: AuditRecord) => void;
  /** Where each request is counted; default: a registry of its own. */
  metrics?: ProxyMetrics;
  /** Receives one debug line per request, with its trace id. */
  log?: Log;
}

interface Context {
  started: bigint;
  user: string;
  message: JsonRpcMessage | undefined;
  requestBytes: number;
  trace: TraceContext;
}

/** Why a request refused with this error was refused, for the decision metric. */
function refusalReason(code: TesseraErrorCode): DecisionReason {
  switch (code) {
    case 'TESSERA_NOT_READY':
      return 'not_ready';
    case 'TESSERA_UNAUTHENTICATED':
      return 'unauthenticated';
    case 'TESSERA_FORBIDDEN':
    case 'TESSERA_INSUFFICIENT_SCOPE':
      return 'no_grant';
    default:
      return 'invalid';
  }
}

function outcomeOf(status: number, errorCode: number): AuditOutcome {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'denied';
  if (status >= 400 || errorCode !== 0) return 'error';
  return 'ok';
}

function hasQueryToken(url: string | undefined): boolean {
  const q = url?.indexOf('?') ?? -1;
  return q !== -1 && new URLSearchParams(url!.slice(q + 1)).has('access_token');
}

function wantsJsonOrSse(accept: string | undefined): boolean {
  if (!accept) return true;
  return /application\/json|text\/event-stream|\*\/\*|application\/\*|text\/\*/.test(accept);
}

function withoutCredentials(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const { authorization: _a, cookie: _c, 'proxy-authorization': _p, ...rest } = headers;
  return rest;
}

/** The headers an upstream receives: no credentials, and the proxy's span as the trace parent. */
function upstreamHeaders(headers: IncomingHttpHeaders, trace: TraceContext): IncomingHttpHeaders {
  const { traceparent: _tp, tracestate: _ts, ...rest } = withoutCredentials(headers);
  const out: IncomingHttpHeaders = { ...rest, traceparent: trace.traceparent };
  if (trace.tracestate !== undefined) out.tracestate = trace.tracestate;
  return out;
}

export function createMcpEndpoint(options: McpEndpointOptions) {
  const { upstream } = options;
  const metrics = options.metrics ?? createProxyMetrics();
  const log: Log = options.log ?? (() => {});

  function record(
    ctx: Context,
    status: number,
    errorCode: number,
    responseBytes: number,
    sessionId: string,
    reason: string,
    decision: DecisionReason,
    outcome?: AuditOutcome,
    failure?: TesseraErrorCode,
  ): void {
    const m = ctx.message;
    const event: AuditRecord = {
      eventId: randomUUID(),
      time: new Date(),
      user: ctx.user,
      method: m && m.kind !== 'response' ? m.method : m ? 'response' : '',
      target: m ? targetOf(m) : '',
      outcome: outcome ?? outcomeOf(status, errorCode),
      httpStatus: status,
      errorCode,
      latencyUs: Number((process.hrtime.bigint() - ctx.started) / 1000n),
      requestBytes: ctx.requestBytes,
      responseBytes,
      sessionId,
      reason,
      requestId: m && m.kind !== 'notification' ? JSON.stringify(m.id) : '',
      traceId: ctx.trace.traceId,
    };
    // The metrics and the log line are derived from the audit record, so the three always agree.
    observeRequest(metrics, {
      method: event.method,
      outcome: event.outcome,
      httpStatus: status,
      latencyUs: event.latencyUs,
      decision,
      upstreamError: upstreamErrorKind(failure),
    });
    log('debug', 'request', {
      eventId: event.eventId,
      traceId: ctx.trace.traceId,
      spanId: ctx.trace.spanId,
      parentSpanId: ctx.trace.parentSpanId,
      method: event.method.length > 64 ? `${event.method.slice(0, 64)}…` : event.method,
      outcome: event.outcome,
      status,
      latencyUs: event.latencyUs,
    });
    options.audit(event);
  }

  function reject(
    res: ServerResponse,
    ctx: Context,
    err: TesseraError,
    headers: Record<string, string> = {},
    outcome?: AuditOutcome,
  ): void {
    const id = ctx.message && ctx.message.kind !== 'notification' ? ctx.message.id : undefined;
    const body = errorBody(id, err.rpcCode, err.message);
    if (!res.headersSent) res.writeHead(err.httpStatus, { 'content-type': 'application/json', ...headers });
    res.end(body);
    record(
      ctx,
      err.httpStatus,
      err.rpcCode,
      Buffer.byteLength(body),
      '',
      err.message,
      refusalReason(err.code),
      outcome,
    );
  }

  return async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    config: ProxyConfig | undefined,
  ): Promise<void> {
    const ctx: Context = {
      started: process.hrtime.bigint(),
      user: '',
      message: undefined,
      requestBytes: 0,
      trace: continueTrace(req.headers),
    };
    // 1. Without a complete configuration nothing is allowed.
    if (!config) {
      reject(
        res,
        ctx,
        new TesseraError('TESSERA_NOT_READY', 'the proxy has not received its configuration yet'),
      );
      return;
    }
    const method = req.method ?? '';
    if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') {
      reject(
        res,
        ctx,
        new TesseraError('TESSERA_METHOD_NOT_ALLOWED', `method ${method} is not allowed`),
        { allow: 'GET, POST, DELETE' },
        'invalid',
      );
      return;
    }

    // 2. Authenticate. Every refusal carries an RFC 6750 challenge pointing at the RFC 9728 document,
    //    and the unread body is drained.
    const challenge = (err: TesseraError, oauthError?: string): void => {
      const scope = oauthError === 'insufficient_scope' ? config.upstream.requiredScopes : undefined;
      const detail = oauthError ? { code: oauthError, description: err.message, scope } : undefined;
      reject(res, ctx, err, { 'www-authenticate': bearerChallenge(config.upstream, detail) });
      req.resume();
    };
    // A token in the query string leaks into logs and histories (RFC 6750 §2.3; the MCP authorization
    // spec forbids it): refused outright, even next to a good header.
    if (hasQueryToken(req.url)) {
      const msg = 'access tokens are not accepted in the query string; send them in the Authorization header';
      return challenge(new TesseraError('TESSERA_BAD_REQUEST', msg), 'invalid_request');
    }
    const token = bearerToken(req.headers.authorization);
    if (!token) return challenge(new TesseraError('TESSERA_UNAUTHENTICATED', 'a bearer token is required'));
    let principal: Principal;
    try {
      principal = await authenticate(token, config.trust, config.upstream.resourceUri);
    } catch (err) {
      return challenge(err as TesseraError, 'invalid_token');
    }
    ctx.user = principal.name;
    const missing = principal.scopes ? missingScopes(principal.scopes, config.upstream.requiredScopes) : [];
    if (missing.length > 0) {
      const msg = `the token lacks the scope${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`;
      return challenge(new TesseraError('TESSERA_INSUFFICIENT_SCOPE', msg), 'insufficient_scope');
    }

    // 3. Framing and body: parsed before the grant so that a refusal echoes the id and the audit names the call.
    let body: Buffer | undefined;
    if (method === 'POST') {
      const contentType = req.headers['content-type'] ?? '';
      if (!/^application\/json\s*(;|$)/i.test(contentType)) {
        reject(
          res,
          ctx,
          new TesseraError('TESSERA_UNSUPPORTED_MEDIA_TYPE', 'Content-Type must be application/json'),
          {},
          'invalid',
        );
        req.resume();
        return;
      }
      if (!wantsJsonOrSse(req.headers.accept)) {
        reject(
          res,
          ctx,
          new TesseraError(
            'TESSERA_NOT_ACCEPTABLE',
            'Accept must allow application/json or text/event-stream',
          ),
          {},
          'invalid',
        );
        req.resume();
        return;
      }
      try {
        body = await readBody(req, options.maxBodyBytes);
        ctx.requestBytes = body.length;
        ctx.message = parseJsonRpc(body.toString('utf8')).message;
      } catch (err) {
        if (!(err instanceof TesseraError)) throw err;
        reject(
          res,
          ctx,
          err,
          err.code === 'TESSERA_PAYLOAD_TOO_LARGE' ? { connection: 'close' } : {},
          'invalid',
        );
        return;
      }
    } else {
      req.resume();
    }

    // 4. The server-level grant.
    const decision = decideGrant(principal, config.policy);
    if (!decision.allowed) {
      reject(res, ctx, new TesseraError('TESSERA_FORBIDDEN', decision.reason));
      return;
    }

    // 5. Forward. A client that goes away aborts the upstream exchange.
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    const sessionHeader = req.headers['mcp-session-id'];
    const result = await upstream.forward(
      {
        httpMethod: method,
        headers: upstreamHeaders(req.headers, ctx.trace),
        body,
        message: ctx.message,
        sessionId: typeof sessionHeader === 'string' ? sessionHeader : undefined,
        principal: principal.subject,
        signal: abort.signal,
      },
      res,
    );
    res.off('close', onClose);

    // 6. Audit: POSTs are JSON-RPC exchanges; stream opens and session ends are recorded too.
    if (method !== 'POST')
      ctx.message = {
        kind: 'notification',
        method: method === 'GET' ? 'http/get-stream' : 'http/delete-session',
        params: undefined,
      };
    record(
      ctx,
      result.status,
      result.errorCode,
      result.responseBytes,
      result.sessionId ?? '',
      result.reason,
      'grant',
      undefined,
      result.failure,
    );
  };
}
