/**
 * The limits every policy-rule condition (CEL) must meet, shared by the control plane, which refuses
 * a bad condition at the admin API, and the proxy, which refuses it again when a policy is pushed.
 * One checker on both sides means a condition the API accepts is never NACKed by a proxy.
 *
 * Why limits at all: `@bufbuild/cel` has no runtime cost limit, so the cost is bounded before a
 * condition is accepted: at most {@link MAX_CONDITION_LENGTH} characters and
 * {@link MAX_CONDITION_NODES} syntax nodes, no comprehension (`all`, `exists`, `map`, `filter`)
 * inside another, and only the {@link CONDITION_VARIABLES}. With the proxy's body-size and JSON-depth
 * limits on `args`, an evaluation is then linear in the size of the request.
 *
 * Pure: parses, never evaluates.
 *
 * @module
 */
import { parse } from '@bufbuild/cel';

export const MAX_CONDITION_LENGTH = 2048;
export const MAX_CONDITION_NODES = 256;
/** `principal` (`name`, `subject`, `groups`, `client_id`), `claims`, `method`, `target`, `args`. */
export const CONDITION_VARIABLES = ['principal', 'claims', 'method', 'target', 'args'] as const;

export type ParsedCondition = ReturnType<typeof parse>;

export type ConditionCheck =
  | { ok: true; parsed: ParsedCondition; usesArgs: boolean }
  | { ok: false; error: string };

type Expr = ParsedCondition['expr'];

/** Walks the syntax tree: counts nodes, measures comprehension nesting, checks free variables. */
function inspect(root: Expr): { usesArgs: boolean } {
  let nodes = 0;
  let usesArgs = false;
  const visit = (e: Expr | undefined, scope: ReadonlySet<string>, loops: number): void => {
    if (!e) return;
    if (++nodes > MAX_CONDITION_NODES) throw new TypeError(`more than ${MAX_CONDITION_NODES} operations`);
    const k = e.exprKind;
    switch (k.case) {
      case 'identExpr':
        if (k.value.name === 'args' && !scope.has('args')) usesArgs = true;
        if (!scope.has(k.value.name) && !(CONDITION_VARIABLES as readonly string[]).includes(k.value.name)) {
          throw new TypeError(
            `unknown variable "${k.value.name}" (known: ${CONDITION_VARIABLES.join(', ')})`,
          );
        }
        return;
      case 'selectExpr':
        visit(k.value.operand, scope, loops);
        return;
      case 'callExpr':
        visit(k.value.target, scope, loops);
        for (const a of k.value.args) visit(a, scope, loops);
        return;
      case 'listExpr':
        for (const a of k.value.elements) visit(a, scope, loops);
        return;
      case 'structExpr':
        for (const en of k.value.entries) {
          if (en.keyKind.case === 'mapKey') visit(en.keyKind.value, scope, loops);
          visit(en.value, scope, loops);
        }
        return;
      case 'comprehensionExpr': {
        if (loops >= 1) throw new TypeError('a comprehension (all, exists, map, filter) inside another');
        const c = k.value;
        visit(c.iterRange, scope, loops);
        visit(c.accuInit, scope, loops);
        const inner = new Set([...scope, c.iterVar, c.iterVar2, c.accuVar].filter(Boolean));
        visit(c.loopCondition, inner, loops + 1);
        visit(c.loopStep, inner, loops + 1);
        visit(c.result, inner, loops + 1);
        return;
      }
      default:
        return;
    }
  };
  visit(root, new Set(), 0);
  return { usesArgs };
}

/**
 * Checks a condition against the limits.
 *
 * @returns the parsed expression (for the proxy to plan) and whether it reads `args`, or a message
 *   saying what is wrong, fit to follow `condition `.
 * @example
 * checkCondition('args.path.startsWith("/tmp/")'); // → { ok: true, parsed, usesArgs: true }
 * checkCondition('x == 1'); // → { ok: false, error: 'unknown variable "x" (known: principal, …)' }
 */
export function checkCondition(source: string): ConditionCheck {
  if (source.length > MAX_CONDITION_LENGTH) {
    return { ok: false, error: `longer than ${MAX_CONDITION_LENGTH} characters` };
  }
  let parsed: ParsedCondition;
  try {
    parsed = parse(source);
  } catch (err) {
    return { ok: false, error: `does not parse: ${(err as Error).message}` };
  }
  try {
    return { ok: true, parsed, usesArgs: inspect(parsed.expr).usesArgs };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}
