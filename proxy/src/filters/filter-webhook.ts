/**
 * Calls one filter webhook: a signed POST of the envelope, bounded in time and size, whose answer is
 * validated strictly. Every failure is a decision too (`error`), and the caller denies on it.
 *
 * Signing: `X-Tessera-Timestamp: <unix seconds>` and
 * `X-Tessera-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`. Receivers should
 * compare in constant time and refuse timestamps more than 300 s away from their clock (replays).
 *
 * @module
 */
import { createHmac } from 'node:crypto';
import type { FilterDecisionRecord } from '../audit/audit-event.ts';
import { TesseraError } from '../errors.ts';
import type { FilterIR } from '../ir/proxy-config.ts';
import { type FilterDispatcherRef, resolveDispatcher } from './lazy-filter-dispatcher.ts';

/** undici is loaded on the first filter call: a proxy without filters never pays its ~12 MB. */
let undici: Promise<typeof import('undici')> | undefined;
function loadUndici(): Promise<typeof import('undici')> {
  undici ??= import('undici');
  return undici;
}

/** Largest webhook answer read. */
export const MAX_FILTER_ANSWER_BYTES = 1024 * 1024;

/** The JSON body a filter receives. Documented in the README ("Filters"). */
export interface FilterEnvelope {
  version: 1;
  phase: 'request' | 'response';
  filter: string;
  server: string;
  principal: { name: string; subject: string; groups: readonly string[]; client_id: string };
  method: string;
  target: string;
  trace_id: string;
  /** The JSON-RPC request as the client sent it (after earlier filters' mutations). */
  request: Record<string, unknown>;
  /** The JSON-RPC response (response phase only). */
  response?: Record<string, unknown>;
}

export interface FilterOutcome extends FilterDecisionRecord {
  /** For `mutate`: the new `params` (request phase) or `result` (response phase). */
  replacement?: Record<string, unknown>;
}

export function sign(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validates an answer: `{"decision":"allow"}`, `{"decision":"deny","reason":…}`, `{"decision":"mutate", params|result}`. */
function interpret(
  filter: FilterIR,
  answer: unknown,
): Pick<FilterOutcome, 'decision' | 'reason' | 'replacement'> {
  if (!isObject(answer)) return { decision: 'error', reason: 'the answer is not a JSON object' };
  const reason = typeof answer.reason === 'string' ? answer.reason.slice(0, 512) : '';
  switch (answer.decision) {
    case 'allow':
      return { decision: 'allow', reason };
    case 'deny':
      return { decision: 'deny', reason: reason || `denied by filter "${filter.name}"` };
    case 'mutate': {
      if (!filter.mayMutate) {
        return {
          decision: 'deny',
          reason: `filter "${filter.name}" answered mutate but is not allowed to mutate`,
        };
      }
      const field = filter.phase === 'request' ? 'params' : 'result';
      const replacement = answer[field];
      if (!isObject(replacement)) {
        return { decision: 'error', reason: `a mutate answer needs "${field}" as a JSON object` };
      }
      return { decision: 'mutate', reason, replacement };
    }
    default:
      return { decision: 'error', reason: 'the answer\'s "decision" must be "allow", "deny" or "mutate"' };
  }
}

/**
 * Calls the webhook and returns its decision; never throws.
 *
 * @example
 * const outcome = await callFilter(filter, envelope, { dispatcher });
 * if (outcome.decision !== 'allow') deny(outcome.reason);
 */
export async function callFilter(
  filter: FilterIR,
  envelope: FilterEnvelope,
  options: { dispatcher?: FilterDispatcherRef; now?: () => number } = {},
): Promise<FilterOutcome> {
  const started = process.hrtime.bigint();
  const done = (o: Pick<FilterOutcome, 'decision' | 'reason' | 'replacement'>): FilterOutcome => ({
    name: filter.name,
    phase: filter.phase,
    ...o,
    latencyUs: Number((process.hrtime.bigint() - started) / 1000n),
  });
  const body = JSON.stringify(envelope);
  const timestamp = String(Math.floor((options.now?.() ?? Date.now()) / 1000));
  const signal = AbortSignal.timeout(filter.timeoutMs);
  try {
    const { request } = await loadUndici();
    const res = await request(filter.url, {
      method: 'POST',
      body,
      signal,
      dispatcher: await resolveDispatcher(options.dispatcher),
      headers: {
        'content-type': 'application/json',
        'x-tessera-filter': filter.name,
        'x-tessera-timestamp': timestamp,
        'x-tessera-signature': sign(filter.secret, timestamp, body),
      },
    });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > MAX_FILTER_ANSWER_BYTES) {
        res.body.destroy();
        return done({
          decision: 'error',
          reason: `the answer is larger than ${MAX_FILTER_ANSWER_BYTES} bytes`,
        });
      }
      chunks.push(chunk as Buffer);
    }
    if (res.statusCode !== 200)
      return done({ decision: 'error', reason: `the webhook answered HTTP ${res.statusCode}` });
    let answer: unknown;
    try {
      answer = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return done({ decision: 'error', reason: 'the answer is not valid JSON' });
    }
    return done(interpret(filter, answer));
  } catch (err) {
    // The SSRF guard's refusal says which address and which setting; keep all of it for the audit.
    const refusal = err instanceof TesseraError && err.code === 'TESSERA_EGRESS_REFUSED';
    const reason = signal.aborted
      ? `no answer within ${filter.timeoutMs} ms`
      : refusal
        ? `the webhook URL is not allowed: ${err.message}`
        : `the webhook is unreachable (${(err as { code?: string }).code ?? (err as Error).message})`;
    return done({ decision: 'error', reason });
  }
}
