/**
 * The policy stage of the MCP endpoint, for one authenticated request:
 *   1. decide with the policy engine (method, target, arguments) → 403 `TESSERA_FORBIDDEN`;
 *   2. ask the caller's admission check, if any (the stream cap: 429 `TESSERA_TOO_MANY_STREAMS`), so a
 *      request the policy denies is told so rather than that it is over a limit;
 *   3. take rate-limit tokens (per user; per user and tool for `tools/call`) → 429 with `Retry-After`;
 *   4. leave out of a `subscriptions/listen` request the `resourceSubscriptions` whose `resources/read`
 *      the engine denies (the stream goes on with the others; the audit's reason names them);
 *   5. run the request filters that select the method and target → 403 `TESSERA_FILTER_DENIED`, or
 *      502 `TESSERA_FILTER_FAILED` when a filter fails (fail closed); a permitted mutation replaces
 *      the body the upstream receives, and is judged as in step 4 again.
 * It also prepares the response stage: list filtering and response filters.
 *
 * @module
 */

import type { FilterDecisionRecord } from '../audit/audit-event.ts';
import { argumentsDigest } from '../audit/body-capture.ts';
import { TesseraError } from '../errors.ts';
import { runFilters, selectFilters } from '../filters/filter-chain.ts';
import type { FilterDispatcherRef } from '../filters/lazy-filter-dispatcher.ts';
import type { PolicyIR } from '../ir/proxy-config.ts';
import type { Principal } from '../policies/authn.ts';
import { filterListResponse, isListMethod } from '../policies/list-filter.ts';
import type { RateLimiter } from '../policies/rate-limit.ts';
import { type JsonRpcMessage, parseJsonRpc, targetOf } from './jsonrpc.ts';
import { type DroppedSubscription, droppedSentence, withoutDenied } from './listen-request.ts';
import type { Rewrite } from './response-rewriter.ts';

/** What the audit records of the policy stage. */
export interface PolicyAudit {
  decision: 'allow' | 'deny';
  ruleId: string;
  filters: FilterDecisionRecord[];
  argumentsDigest: string;
  /** What the policy took out of an allowed request (a listen's denied resource URIs); '' when nothing. */
  dropped: string;
}

export interface GuardInput {
  policy: PolicyIR;
  principal: Principal;
  /** The parsed POST body, or undefined for GET and DELETE. */
  message: JsonRpcMessage | undefined;
  /** The method decided for requests without a JSON-RPC method (`http/get-stream`, …). */
  pseudoMethod: string;
  limiter: RateLimiter;
  server: string;
  traceId: string;
  dispatcher?: FilterDispatcherRef;
  /** Asked once the policy allows, before any rate-limit token is taken: an error refuses with 429. */
  admit?: () => TesseraError | undefined;
}

export type GuardResult =
  | { ok: true; audit: PolicyAudit; body?: Buffer; message?: JsonRpcMessage }
  | { ok: false; audit: PolicyAudit; error: TesseraError; headers: Record<string, string> };

function methodOf(input: GuardInput): string {
  const m = input.message;
  if (!m) return input.pseudoMethod;
  return m.kind === 'response' ? 'response' : m.method;
}

function argsOf(message: JsonRpcMessage | undefined): unknown {
  return message && message.kind !== 'response' ? message.params?.arguments : undefined;
}

export function principalView(p: Principal) {
  return { name: p.name, subject: p.subject, groups: p.groups, client_id: p.clientId };
}

export async function guardRequest(input: GuardInput): Promise<GuardResult> {
  const method = methodOf(input);
  const target = input.message ? targetOf(input.message) : '';
  const args = argsOf(input.message);
  const decided = input.policy.engine.decide(input.principal, method, target, args);
  const audit: PolicyAudit = {
    decision: decided.effect === 'ALLOW' ? 'allow' : 'deny',
    ruleId: decided.ruleId,
    filters: [],
    argumentsDigest: argumentsDigest(args),
    dropped: '',
  };
  // 1. The decision.
  if (decided.effect !== 'ALLOW') {
    return { ok: false, audit, error: new TesseraError('TESSERA_FORBIDDEN', decided.reason), headers: {} };
  }
  // 2. Admission (the stream cap): no token is taken and no filter is called for a refused request.
  const refused = input.admit?.();
  if (refused) return { ok: false, audit, error: refused, headers: {} };
  // 3. Rate limits, for JSON-RPC messages only (a GET stream or a DELETE is not a call).
  if (input.message) {
    const tool = method === 'tools/call' ? target : undefined;
    const verdict = input.limiter.take(input.policy.rateLimits, input.principal.name, tool);
    if (verdict.limited) {
      const what = verdict.scope === 'tool' ? `calls of "${target}"` : 'requests';
      const error = new TesseraError(
        'TESSERA_RATE_LIMITED',
        `rate limit exceeded for ${what}; retry after ${verdict.retryAfterS} s`,
      );
      return { ok: false, audit, error, headers: { 'retry-after': String(verdict.retryAfterS) } };
    }
  }
  // 4. A listen stream's resource subscriptions: an update tells whether the resource changed, so each
  //    URI gets the decision a `resources/read` of it would.
  const dropped: DroppedSubscription[] = [];
  const readable = (message: JsonRpcMessage | undefined) => {
    const trimmed = withoutDenied(message, (uri) => {
      const d = input.policy.engine.decide(input.principal, 'resources/read', uri, undefined);
      return d.effect === 'ALLOW' ? undefined : d.reason;
    });
    if (!trimmed) return message;
    dropped.push(...trimmed.dropped);
    audit.dropped = droppedSentence(dropped);
    return trimmed.message;
  };
  const m = readable(input.message);
  if (!m || m.kind === 'response') return { ok: true, audit };
  const selected = selectFilters(input.policy.filters, 'request', method, target);
  // Most requests: nothing trimmed, no filter (the hot path builds nothing more).
  if (selected.length === 0 && m === input.message) return { ok: true, audit };
  const request: Record<string, unknown> = { jsonrpc: '2.0', method: m.method };
  if (m.kind === 'request') request.id = m.id;
  if (m.params !== undefined) request.params = m.params;
  const unchanged: GuardResult =
    m === input.message
      ? { ok: true, audit }
      : { ok: true, audit, body: Buffer.from(JSON.stringify(request)), message: m };
  // 5. Request filters.
  if (selected.length === 0) return unchanged;
  const chain = await runFilters(selected, chainContext(input, method, target), request);
  audit.filters.push(...chain.decisions);
  if (!chain.ok) {
    const code = chain.failed ? 'TESSERA_FILTER_FAILED' : 'TESSERA_FILTER_DENIED';
    return { ok: false, audit, error: new TesseraError(code, chain.reason), headers: {} };
  }
  if (!chain.changed) return unchanged;
  // The protocol metadata is not the filter's: a rewrite without `_meta` keeps the request's.
  const rewritten = chain.message as { params?: Record<string, unknown> };
  if (m.params?._meta !== undefined && rewritten.params && rewritten.params._meta === undefined) {
    rewritten.params = { ...rewritten.params, _meta: m.params._meta };
  }
  // A filter cannot subscribe what the policy denies, as it cannot change the target.
  let mutated: JsonRpcMessage;
  try {
    mutated = parseJsonRpc(JSON.stringify(chain.message)).message;
  } catch (err) {
    // Its rewrite would reach the server as a message the policy did not judge (json-structure.ts).
    const reason = `a request filter's rewrite is refused: ${(err as Error).message}`;
    return { ok: false, audit, error: new TesseraError('TESSERA_FILTER_FAILED', reason), headers: {} };
  }
  const judged = readable(mutated);
  const value =
    judged === mutated
      ? chain.message
      : { ...chain.message, params: (judged as { params?: unknown }).params };
  const text = JSON.stringify(value);
  return { ok: true, audit, body: Buffer.from(text), message: parseJsonRpc(text).message };
}

function chainContext(input: GuardInput, method: string, target: string) {
  return {
    server: input.server,
    principal: principalView(input.principal),
    method,
    target,
    traceId: input.traceId,
    dispatcher: input.dispatcher,
  };
}

/**
 * The rewrite of the answer to this request, or undefined when the answer passes untouched: list
 * answers are filtered by the policy; response filters then see (and may replace) the result.
 * Decisions of response filters are appended to `audit.filters`. `observe`, for a list request, sees
 * the upstream's answer before any filtering.
 */
export function responseRewrite(
  input: GuardInput,
  audit: PolicyAudit,
  observe?: (response: Record<string, unknown>) => void,
): Rewrite | undefined {
  const m = input.message;
  if (m?.kind !== 'request') return undefined;
  const target = targetOf(m);
  const list = isListMethod(m.method);
  const selected = selectFilters(input.policy.filters, 'response', m.method, target);
  if (!list && selected.length === 0) return undefined;
  return async (response) => {
    if (list) observe?.(response);
    let out = list
      ? filterListResponse(m.method, response, (use, name) =>
          input.policy.engine.visible(input.principal, use, name),
        )
      : response;
    if (selected.length === 0 || 'error' in out) return out;
    const request = { jsonrpc: '2.0', id: m.id, method: m.method, params: m.params };
    const chain = await runFilters(selected, chainContext(input, m.method, target), request, out);
    audit.filters.push(...chain.decisions);
    if (chain.ok) return chain.message;
    const code = chain.failed ? 'TESSERA_FILTER_FAILED' : 'TESSERA_FILTER_DENIED';
    const err = new TesseraError(code, chain.reason);
    out = { jsonrpc: '2.0', id: m.id, error: { code: err.rpcCode, message: err.message } };
    return out;
  };
}
