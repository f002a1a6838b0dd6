/**
 * The MCP endpoint pipeline. For every request, in order:
 *   1. no complete configuration → 503, deny everything; a foreign browser `Origin` → 403 (DNS rebinding);
 *   2. authenticate the bearer token (401 with an RFC 9728 challenge);
 *   3. validate the HTTP framing and parse the JSON-RPC body (4xx, -32700/-32600), detect the wire era and
 *      check a modern request's metadata headers against its body (400, -32020/-32022), `Mcp-Param-*`
 *      too once a forwarded `tools/list` answer has taught the tool's `x-mcp-header` annotations, and
 *      the bounds of a `subscriptions/listen` request's `resourceSubscriptions` (400, -32602);
 *   4. the policy stage (request-guard.ts): decision (403), rate limits (429), request filters;
 *   5. forward to the upstream, streaming the answer; list answers and response filters go through a
 *      response rewriter, which rewrites only the one answer to the request;
 *   6. record one audit event, and the same facts in the metrics and a debug log line.
 *
 * Every request gets a W3C trace context: the caller's trace (its `traceparent` header, else the
 * `traceparent` in `params._meta`) is continued with the proxy's own span as the parent of the upstream
 * request, or a new trace is started when the caller sent no valid `traceparent`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { AuditOutcome, AuditRecord } from '../audit/audit-event.ts';
import { capturedBody } from '../audit/body-capture.ts';
import { parseAllowList } from '../egress/ssrf-guard.ts';
import { JsonRpcCode, TesseraError, type TesseraErrorCode } from '../errors.ts';
import {
  FILTER_ALLOW,
  type FilterDispatcherRef,
  lazyFilterDispatcher,
} from '../filters/lazy-filter-dispatcher.ts';
import { type InboundRequest, PayloadTooLargeError } from '../http1/inbound-request.ts';
import type { OutboundResponse, ResponseWriter } from '../http1/outbound-response.ts';
import type { ProxyConfig } from '../ir/proxy-config.ts';
import { authenticate, bearerToken, type Principal } from '../policies/authn.ts';
import { createRateLimiter } from '../policies/rate-limit.ts';
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
import { unknownResultTypeMessage, unknownResultTypeOf } from '../upstream/result-type.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { hostAllowed } from './host-check.ts';
import { errorBody, type JsonRpcMessage, jsonText, parseJsonRpc, targetOf } from './jsonrpc.ts';
import {
  checkResourceSubscriptions,
  RESOURCE_UPDATED,
  subscribedUris,
  updatedUri,
} from './listen-request.ts';
import { createOpenStreams, DEFAULT_MAX_STREAMS_PER_PRINCIPAL } from './open-streams.ts';
import { originAllowed } from './origin-check.ts';
import { createParamHeaderStore } from './param-header-store.ts';
import { bearerChallenge } from './protected-resource.ts';
import type { ProtocolEra } from './protocol-era.ts';
import { guardRequest, type PolicyAudit, responseRewrite } from './request-guard.ts';
import { validateRequestMetadata } from './request-metadata.ts';
import { ResponseRewriter } from './response-rewriter.ts';
import { checkFraming } from './wire-framing.ts';

export interface McpEndpointOptions {
  upstream: Upstream;
  maxBodyBytes: number;
  audit: (record: AuditRecord) => void;
  /** Where each request is counted; default: a registry of its own. */
  metrics?: ProxyMetrics;
  /** Receives one debug line per request, with its trace id. */
  log?: Log;
  /** Browser origins allowed besides loopback and the resource URI's own origin. */
  allowedOrigins?: readonly string[];
  /** The address the proxy listens on: on loopback, `Host` is checked too (`host-check.ts`). */
  listenHost?: string;
  /** On a loopback listener, host names allowed in `Host` besides loopback and the resource URI's host. */
  allowedHosts?: readonly string[];
  /** How many proxies serve this server; rate limits are shared among them (default 1). */
  replicas?: number;
  /** Most GET and listen streams one principal may hold open at once (`open-streams.ts`). */
  maxStreamsPerPrincipal?: number;
  /** Where filter webhooks are called (`createFilterDispatcher`); default: nothing but public https. */
  filterDispatcher?: FilterDispatcherRef;
  /**
   * For `disk` audit durability: resolves once every event recorded so far is on stable storage
   * (`AuditSpool.sync`). Every answer's end then waits for it; when it fails, the answer is cut.
   */
  auditSynced?: () => Promise<void>;
}

interface Context {
  started: bigint;
  user: string;
  message: JsonRpcMessage | undefined;
  requestBytes: number;
  trace: TraceContext;
  principal?: Principal;
  policy?: PolicyAudit;
  era: string;
  /** What a GET or DELETE is recorded as (`http/get-stream`, `http/delete-session`); '' for a POST. */
  pseudoMethod: string;
  bodies?: { request: string; response: string; truncated: boolean };
}

/**
 * The trace an MCP client put in `params._meta` (`traceparent`, `tracestate`), for a request whose
 * HTTP headers carried none: clients that cannot set headers, such as those behind an SDK transport,
 * propagate trace context this way. The headers win when both are there.
 */
function traceFromMeta(params: unknown): TraceContext | undefined {
  const meta = (params as { _meta?: unknown } | undefined)?._meta;
  if (typeof meta !== 'object' || meta === null) return undefined;
  const { traceparent, tracestate } = meta as { traceparent?: unknown; tracestate?: unknown };
  if (typeof traceparent !== 'string') return undefined;
  const trace = continueTrace({
    traceparent,
    tracestate: typeof tracestate === 'string' ? tracestate : undefined,
  });
  return trace.parentSpanId === undefined ? undefined : trace;
}

/** A modern answer whose resultType 2026-07-28 does not define becomes an error (`result-type.ts`). */
async function refuseUnknownResultType(response: Record<string, unknown>): Promise<Record<string, unknown>> {
  const unknown = unknownResultTypeOf(response);
  if (unknown === undefined) return response;
  const error = { code: JsonRpcCode.UpstreamFailure, message: unknownResultTypeMessage(unknown) };
  return { jsonrpc: '2.0', id: response.id, error };
}

/** The error sent instead of an answer that had to be rewritten and could not be. */
const UNFILTERABLE = {
  code: new TesseraError('TESSERA_FILTER_FAILED', '').rpcCode,
  message: 'the answer could not be filtered (too large or not JSON)',
};

/** A body over the server's limit, as the catalogued error its client is answered with; else `err` as it is. */
function asTooLarge(err: unknown): unknown {
  return err instanceof PayloadTooLargeError
    ? new TesseraError('TESSERA_PAYLOAD_TOO_LARGE', err.message)
    : err;
}

/** Whether the request opens a stream the proxy holds open (`open-streams.ts`). */
function opensStream(httpMethod: string, message: JsonRpcMessage | undefined): boolean {
  return httpMethod === 'GET' || (message?.kind === 'request' && message.method === 'subscriptions/listen');
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
    case 'TESSERA_RATE_LIMITED':
    case 'TESSERA_TOO_MANY_STREAMS':
      return 'rate_limited';
    case 'TESSERA_FILTER_DENIED':
    case 'TESSERA_FILTER_FAILED':
      return 'filter';
    default:
      return 'invalid';
  }
}

function outcomeOf(status: number, errorCode: number): AuditOutcome {
  if (status === 401) return 'unauthenticated';
  if (status === 403 || status === 429) return 'denied';
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

/** Request headers an upstream never sees: the client's credentials, and the trace it is re-parented under. */
const dropped: ReadonlySet<string> = new Set([
  'authorization',
  'cookie',
  'proxy-authorization',
  'traceparent',
  'tracestate',
]);

/** The headers an upstream receives: no credentials, and the proxy's span as the trace parent. */
function upstreamHeaders(headers: IncomingHttpHeaders, trace: TraceContext): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const name in headers) if (!dropped.has(name)) out[name] = headers[name];
  out.traceparent = trace.traceparent;
  if (trace.tracestate !== undefined) out.tracestate = trace.tracestate;
  return out;
}

export function createMcpEndpoint(options: McpEndpointOptions) {
  const { upstream } = options;
  const metrics = options.metrics ?? createProxyMetrics();
  const log: Log = options.log ?? (() => {});
  const limiter = createRateLimiter({ replicas: options.replicas });
  // One endpoint fronts one upstream, so the annotations it learns are that upstream's.
  const paramHeaders = createParamHeaderStore({ log });
  const filterDispatcher =
    options.filterDispatcher ?? lazyFilterDispatcher({ allow: parseAllowList([], FILTER_ALLOW).allow });
  const maxStreams = options.maxStreamsPerPrincipal ?? DEFAULT_MAX_STREAMS_PER_PRINCIPAL;
  const streams = createOpenStreams({ maxPerPrincipal: maxStreams });
  const tooManyStreams = (principal: Principal) =>
    new TesseraError(
      'TESSERA_TOO_MANY_STREAMS',
      `${principal.name} already holds ${maxStreams} open streams on this proxy; close one first`,
    );
  /** The configuration in force: what a long stream's later deliveries are judged by. */
  let latest: ProxyConfig | undefined;
  /** A `notifications/resources/updated` naming a resource `principal` may not read now. */
  const unreadableUpdate = (principal: Principal, message: Record<string, unknown>): boolean => {
    if (message.method !== RESOURCE_UPDATED) return false;
    const uri = updatedUri(message);
    return (
      uri === undefined ||
      latest?.policy.engine.decide(principal, 'resources/read', uri, undefined).effect !== 'ALLOW'
    );
  };

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
      method: m && m.kind !== 'response' ? m.method : m ? 'response' : ctx.pseudoMethod,
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
      decision: ctx.policy?.decision ?? '',
      ruleId: ctx.policy?.ruleId ?? '',
      filters: ctx.policy?.filters ?? [],
      argumentsDigest: ctx.policy?.argumentsDigest ?? '',
      clientId: ctx.principal?.clientId ?? '',
      groups: ctx.principal?.groups ?? [],
      requestBody: ctx.bodies?.request ?? '',
      responseBody: ctx.bodies?.response ?? '',
      bodiesTruncated: ctx.bodies?.truncated ?? false,
      era: ctx.era,
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
    res: ResponseWriter,
    ctx: Context,
    err: TesseraError,
    headers: Record<string, string> = {},
    outcome?: AuditOutcome,
  ): void {
    const id = ctx.message && ctx.message.kind !== 'notification' ? ctx.message.id : undefined;
    const body = errorBody(id, err.rpcCode, err.message, err.data);
    if (!res.headersSent) res.writeHead(err.httpStatus, { 'content-type': 'application/json', ...headers });
    // Recorded before the answer goes out: a client that has it can rely on the event being spooled.
    try {
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
    } finally {
      res.end(body);
    }
  }

  async function forwardAndRecord(
    req: InboundRequest,
    res: OutboundResponse,
    ctx: Context,
    exchange: {
      method: 'POST' | 'GET' | 'DELETE';
      body: Buffer | undefined;
      era: ProtocolEra;
      guardInput: Parameters<typeof guardRequest>[0];
      capture: ProxyConfig['policy']['auditBodies'];
      policy: PolicyAudit;
      token: string;
    },
  ): Promise<void> {
    const { method, body, era, guardInput, capture, policy } = exchange;
    const { principal } = guardInput;
    // A stream that outlives its authorization (policy change, expired token) is dropped (open-streams.ts).
    let droppedBecause = '';
    const m = ctx.message;
    const opens = opensStream(method, m);
    const stream = opens
      ? streams.add(
          {
            token: exchange.token,
            method: m?.kind === 'request' ? m.method : ctx.pseudoMethod,
            uris: subscribedUris(m),
            close(reason) {
              droppedBecause = reason;
              log('info', 'closing a stream the client may no longer hold', {
                traceId: ctx.trace.traceId,
                user: ctx.user,
                reason,
              });
              res.destroy();
            },
          },
          principal,
        )
      : undefined;
    if (opens && !stream) {
      reject(res, ctx, tooManyStreams(principal), {}, 'denied');
      return;
    }
    const abort = new AbortController();
    const onClose = () => {
      if (!res.writableFinished) abort.abort();
    };
    res.once('close', onClose);
    const sessionHeader = req.headers['mcp-session-id'];
    const rewrite = responseRewrite(
      { ...guardInput, message: ctx.message },
      policy,
      paramHeaders.learnerFor(ctx.message),
    );
    // A modern answer streamed as SSE has its resultType checked as its event passes (JSON answers are
    // checked by the upstream, which holds them whole).
    const checksResultType = era === 'modern' && !rewrite && ctx.message?.kind === 'request';
    // Whatever an event stream carries besides the answer is judged as it goes: an update names a
    // resource, maybe one the user may not read (a sub-resource of one subscribed, one the policy has
    // hidden since, or one a server mentions while it works on a POST). JSON answers pass untouched.
    const sink = new ResponseRewriter(res, {
      id: ctx.message?.kind === 'request' ? ctx.message.id : undefined,
      rewrite: rewrite ?? (checksResultType ? refuseUnknownResultType : undefined),
      captureBytes: capture ? capture.maxBytes * 4 + 1024 : 0,
      failure: UNFILTERABLE,
      eventStreamOnly: !rewrite && checksResultType,
      drop: (message) => unreadableUpdate(principal, message),
    });
    let result: Awaited<ReturnType<Upstream['forward']>>;
    try {
      result = await upstream.forward(
        {
          httpMethod: method,
          headers: upstreamHeaders(req.headers, ctx.trace),
          body,
          message: ctx.message,
          era,
          // Modern requests have no sessions: a stray header is ignored (2026-07-28 §Earlier Streamable HTTP Revisions).
          sessionId: era === 'legacy' && typeof sessionHeader === 'string' ? sessionHeader : undefined,
          principal: principal.subject,
          user: principal.name,
          signal: abort.signal,
        },
        sink,
      );
    } finally {
      res.off('close', onClose);
      stream?.();
    }
    await sink.done;
    result.responseBytes = sink.bytes;
    // A response filter that refused replaced the answer with its error.
    const refused = policy.filters.find(
      (f) => f.phase === 'response' && (f.decision === 'deny' || f.decision === 'error'),
    );
    if (refused) {
      const err = new TesseraError(
        refused.decision === 'deny' ? 'TESSERA_FILTER_DENIED' : 'TESSERA_FILTER_FAILED',
        refused.reason,
      );
      result.errorCode = err.rpcCode;
      result.reason = refused.reason;
      policy.decision = 'deny';
    }
    if (capture) {
      const { body: raw, complete } = sink.captured();
      const r = capturedBody(raw, sink.contentType, capture.maxBytes, complete);
      ctx.bodies = {
        request: ctx.bodies?.request ?? '',
        response: r.text,
        truncated: (ctx.bodies?.truncated ?? false) || r.truncated,
      };
    }

    // 6. Audit: POSTs are JSON-RPC exchanges; stream opens and session ends are recorded too.
    record(
      ctx,
      result.status,
      result.errorCode,
      result.responseBytes,
      result.sessionId ?? '',
      [policy.dropped, result.reason, droppedBecause].filter((r) => r !== '').join('; '),
      'grant',
      policy.decision === 'deny' ? 'denied' : undefined,
      result.failure,
    );
  }

  /** A browser's cross-origin request (`Origin`) or a DNS-rebound name (`Host` on loopback), refused. */
  function forgedOrigin(req: InboundRequest, config: ProxyConfig): TesseraError | undefined {
    const { origin, host } = req.headers;
    const resource = config.upstream.resourceUri;
    if (!originAllowed(origin, resource, options.allowedOrigins))
      return new TesseraError('TESSERA_ORIGIN_FORBIDDEN', `Origin ${origin} is not allowed`);
    if (!hostAllowed(host, options.listenHost ?? '0.0.0.0', resource, options.allowedHosts))
      return new TesseraError('TESSERA_HOST_FORBIDDEN', `Host ${host} is not allowed on a loopback listener`);
    return undefined;
  }

  async function handle(
    req: InboundRequest,
    res: OutboundResponse,
    config: ProxyConfig | undefined,
  ): Promise<void> {
    const ctx: Context = {
      started: process.hrtime.bigint(),
      user: '',
      message: undefined,
      requestBytes: 0,
      trace: continueTrace(req.headers),
      era: typeof req.headers['mcp-protocol-version'] === 'string' ? req.headers['mcp-protocol-version'] : '',
      pseudoMethod: '',
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
    latest = config;
    const forged = forgedOrigin(req, config);
    if (forged) {
      reject(res, ctx, forged, {}, 'invalid');
      req.resume();
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
    if (method !== 'POST') ctx.pseudoMethod = method === 'GET' ? 'http/get-stream' : 'http/delete-session';

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
    ctx.principal = principal;
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
        body = await req.readBody(options.maxBodyBytes).catch((err: unknown) => {
          throw asTooLarge(err);
        });
        ctx.requestBytes = body.length;
        ctx.message = parseJsonRpc(jsonText(body)).message;
        const m = ctx.message;
        if (ctx.trace.parentSpanId === undefined && m.kind !== 'response')
          ctx.trace = traceFromMeta(m.params) ?? ctx.trace;
        if (!ctx.era && m.kind === 'request' && m.method === 'initialize') {
          const v = m.params?.protocolVersion;
          if (typeof v === 'string') ctx.era = v.slice(0, 32);
        }
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
      // A GET or DELETE has no use for a body, but nothing goes upstream before the body's end: one
      // the server refuses as malformed (answering 400 itself) must not leave its request carried out.
      try {
        await req.discardBody();
      } catch (err) {
        const tooLarge = asTooLarge(err);
        if (!(tooLarge instanceof TesseraError)) throw tooLarge; // RequestAbortedError: no one to answer
        reject(res, ctx, tooLarge, { connection: 'close' }, 'invalid');
        return;
      }
    }
    let era: ProtocolEra;
    try {
      era = checkFraming(method, req.headers, ctx.message, paramHeaders.forCall(ctx.message));
      checkResourceSubscriptions(ctx.message);
    } catch (err) {
      if (!(err instanceof TesseraError)) throw err;
      const allow: Record<string, string> =
        err.code === 'TESSERA_METHOD_NOT_ALLOWED' ? { allow: 'POST' } : {};
      reject(res, ctx, err, allow, 'invalid');
      return;
    }

    // 4. Policy: decision, rate limits, request filters.
    const guardInput = {
      policy: config.policy,
      principal,
      message: ctx.message,
      pseudoMethod: ctx.pseudoMethod,
      limiter,
      server: config.upstream.server,
      traceId: ctx.trace.traceId,
      dispatcher: filterDispatcher,
      // A stream beyond the principal's cap is refused once the policy allows it, before the request
      // filters are called for it (the place is taken only when the stream opens, which checks again).
      admit: opensStream(method, ctx.message)
        ? () => (streams.held(principal) >= maxStreams ? tooManyStreams(principal) : undefined)
        : undefined,
    };
    const guard = await guardRequest(guardInput);
    ctx.policy = guard.audit;
    const capture = config.policy.auditBodies;
    if (capture && body)
      ctx.bodies = { ...bodyText(body, 'application/json', capture.maxBytes), response: '' };
    if (!guard.ok) {
      reject(res, ctx, guard.error, guard.headers, 'denied');
      return;
    }
    if (guard.body) {
      body = guard.body;
      ctx.message = guard.message;
      // A modern upstream checks the client's MCP headers against the body it receives: a rewrite that
      // no longer matches them would be refused there, so it fails closed here, naming the filter's part.
      if (era === 'modern') {
        const verdict = validateRequestMetadata(req.headers, ctx.message!, paramHeaders.forCall(ctx.message));
        if (!verdict.ok) {
          const text = `a request filter's rewrite no longer matches the request's MCP headers: ${verdict.message}`;
          reject(res, ctx, new TesseraError('TESSERA_FILTER_FAILED', text), {}, 'error');
          return;
        }
      }
    }

    // 5. Forward. A client that goes away aborts the upstream exchange. The response's end waits for
    //    its audit event (step 6), so that every answer a client has seen is on the spool.
    res.holdEnd();
    try {
      await forwardAndRecord(req, res, ctx, {
        method,
        body,
        era,
        guardInput,
        capture,
        policy: guard.audit,
        token,
      });
    } finally {
      res.releaseEnd();
    }
  }

  /**
   * The endpoint: `handle(req, res, config)` serves one request; `revalidate(config)` judges the streams
   * it holds open under a new configuration and closes those no longer allowed.
   */
  /** `handle`, with every answer's end (refusals too) held until its audit event is on disk. */
  async function handleDurably(
    req: InboundRequest,
    res: OutboundResponse,
    config: ProxyConfig | undefined,
  ): Promise<void> {
    res.holdEnd();
    try {
      await handle(req, res, config);
    } finally {
      try {
        await options.auditSynced!();
        res.releaseEnd();
      } catch (err) {
        // Fail closed: without its durable event, the client must not see a complete answer.
        log('error', 'the audit spool could not be flushed to disk; the answer is cut', {
          error: (err as Error).message,
        });
        res.destroy();
      }
    }
  }

  return Object.assign(options.auditSynced ? handleDurably : handle, {
    revalidate: (config: ProxyConfig): Promise<number> => {
      latest = config;
      return streams.revalidate(config);
    },
  });
}

function bodyText(
  raw: Buffer,
  contentType: string,
  maxBytes: number,
): { request: string; truncated: boolean } {
  const r = capturedBody(raw, contentType, maxBytes, true);
  return { request: r.text, truncated: r.truncated };
}
