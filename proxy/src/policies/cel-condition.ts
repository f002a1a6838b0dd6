/**
 * CEL conditions of policy rules, compiled once per configuration with `@bufbuild/cel`.
 *
 * `@bufbuild/cel` has no runtime cost limit, so the cost is bounded before a condition is accepted:
 * at most {@link MAX_CONDITION_LENGTH} characters and {@link MAX_CONDITION_NODES} syntax nodes, no
 * comprehension (`all`, `exists`, `map`, `filter`) inside another, and only the variables below.
 * With the proxy's body-size and JSON-depth limits on `args`, an evaluation is then linear in the
 * size of the request.
 *
 * Variables: `principal` (`name`, `subject`, `groups`, `client_id`), `claims` (the token's claims),
 * `method`, `target`, `args` (the request's `params.arguments`, `{}` when absent).
 *
 * @module
 */
import { celEnv, isCelError, parse, plan } from '@bufbuild/cel';

export const MAX_CONDITION_LENGTH = 2048;
export const MAX_CONDITION_NODES = 256;
export const CONDITION_VARIABLES = ['principal', 'claims', 'method', 'target', 'args'] as const;

export interface ConditionInput {
  principal: { name: string; subject: string; groups: readonly string[]; client_id: string };
  claims: Readonly<Record<string, unknown>>;
  method: string;
  target: string;
  args: unknown;
}

export type ConditionResult = { ok: true; value: boolean } | { ok: false; error: string };

/** A compiled condition. */
export interface Condition {
  readonly source: string;
  /** Whether the expression reads `args`: such a condition cannot be decided for a list entry. */
  readonly usesArgs: boolean;
  evaluate(input: ConditionInput): ConditionResult;
}

type Expr = ReturnType<typeof parse>['expr'];

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

const env = celEnv();

/**
 * Parses, checks and plans a condition.
 *
 * @throws TypeError with a message saying what is wrong with the expression.
 * @example
 * const c = compileCondition('"eng" in principal.groups && args.path.startsWith("/tmp/")');
 * c.evaluate(input); // { ok: true, value: true }
 */
export function compileCondition(source: string): Condition {
  if (source.length > MAX_CONDITION_LENGTH) {
    throw new TypeError(`longer than ${MAX_CONDITION_LENGTH} characters`);
  }
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(source);
  } catch (err) {
    throw new TypeError(`does not parse: ${(err as Error).message}`);
  }
  const { usesArgs } = inspect(parsed.expr);
  const run = plan(env, parsed);
  return {
    source,
    usesArgs,
    evaluate(input) {
      let out: unknown;
      try {
        out = run(input as unknown as Parameters<typeof run>[0]);
      } catch (err) {
        return { ok: false, error: (err as Error).message };
      }
      if (isCelError(out)) return { ok: false, error: out.message };
      if (typeof out !== 'boolean') return { ok: false, error: 'the condition did not evaluate to a bool' };
      return { ok: true, value: out };
    },
  };
}
