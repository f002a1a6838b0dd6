/**
 * Runs the filters of one phase that select an exchange, in configuration order. Each filter sees the
 * message as the previous one left it; the first deny or error stops the chain (fail closed).
 *
 * Request phase: a mutation replaces `params`, but may not change the target (`name` or `uri`), so a
 * filter cannot route a call around the policy that allowed it. Response phase: a mutation replaces
 * `result`; an error response is never sent to response filters (there is nothing to inspect).
 *
 * @module
 */

import type { FilterIR } from '../ir/proxy-config.ts';
import { callFilter, type FilterEnvelope, type FilterOutcome } from './filter-webhook.ts';
import type { FilterDispatcherRef } from './lazy-filter-dispatcher.ts';

export interface ChainContext {
  server: string;
  principal: FilterEnvelope['principal'];
  method: string;
  target: string;
  traceId: string;
  dispatcher?: FilterDispatcherRef;
}

export type ChainResult =
  | { ok: true; message: Record<string, unknown>; changed: boolean; decisions: FilterOutcome[] }
  | { ok: false; failed: boolean; reason: string; decisions: FilterOutcome[] };

/** Filters of `phase` selected by the method and target. */
export function selectFilters(
  filters: readonly FilterIR[],
  phase: 'request' | 'response',
  method: string,
  target: string,
): FilterIR[] {
  return filters.filter((f) => f.phase === phase && f.methods.matches(method) && f.targets.matches(target));
}

function targetOfParams(params: Record<string, unknown> | undefined): unknown {
  return params?.name ?? params?.uri;
}

/**
 * @param request the JSON-RPC request (its `params` may be replaced in the request phase)
 * @param response the JSON-RPC response, for the response phase
 */
export async function runFilters(
  selected: readonly FilterIR[],
  ctx: ChainContext,
  request: Record<string, unknown>,
  response?: Record<string, unknown>,
): Promise<ChainResult> {
  const decisions: FilterOutcome[] = [];
  let req = request;
  let res = response;
  let changed = false;
  for (const filter of selected) {
    const envelope: FilterEnvelope = {
      version: 1,
      phase: filter.phase,
      filter: filter.name,
      server: ctx.server,
      principal: ctx.principal,
      method: ctx.method,
      target: ctx.target,
      trace_id: ctx.traceId,
      request: req,
      ...(res ? { response: res } : {}),
    };
    let outcome = await callFilter(filter, envelope, { dispatcher: ctx.dispatcher });
    if (outcome.decision === 'mutate' && filter.phase === 'request') {
      const before = targetOfParams(req.params as Record<string, unknown> | undefined);
      if (targetOfParams(outcome.replacement) !== before) {
        outcome = {
          ...outcome,
          decision: 'error',
          reason: 'a mutation must not change the target (name or uri)',
          replacement: undefined,
        };
      }
    }
    decisions.push(outcome);
    if (outcome.decision === 'deny' || outcome.decision === 'error') {
      const failed = outcome.decision === 'error';
      const reason = failed ? `filter "${filter.name}" failed: ${outcome.reason}` : outcome.reason;
      return { ok: false, failed, reason, decisions };
    }
    if (outcome.decision === 'mutate' && outcome.replacement) {
      changed = true;
      if (filter.phase === 'request') req = { ...req, params: outcome.replacement };
      else res = { ...res, result: outcome.replacement };
    }
  }
  return { ok: true, message: (response ? res : req) as Record<string, unknown>, changed, decisions };
}
