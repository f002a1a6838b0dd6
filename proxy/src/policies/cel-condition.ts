/**
 * CEL conditions of policy rules, compiled once per configuration with `@bufbuild/cel`.
 *
 * The limits (length, operations, nested comprehensions, known variables) are checked by
 * `@tessera/api/policy/cel-limits`, the same checker the control plane runs at its admin API, so
 * the two planes accept exactly the same conditions.
 *
 * Variables: `principal` (`name`, `subject`, `groups`, `client_id`), `claims` (the token's claims),
 * `method`, `target`, `args` (the request's `params.arguments`, `{}` when absent).
 *
 * A condition that reads `args` fails to evaluate (and so denies) when the arguments hold an integer
 * beyond ±2^53: parsed as a double, it may not be the value the server reads (`inexact-integer.ts`).
 *
 * @module
 */
import { celEnv, isCelError, plan } from '@bufbuild/cel';
import { checkCondition } from '@tessera/api/policy/cel-limits';
import { inexactInteger } from './inexact-integer.ts';

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

const env = celEnv();

/** Per arguments object: a request's arguments are judged by every rule, but walked once. */
const inexactSeen = new WeakMap<object, string | undefined>();

function inexactIntegerOf(args: unknown): string | undefined {
  if (typeof args !== 'object' || args === null) return inexactInteger(args);
  if (inexactSeen.has(args)) return inexactSeen.get(args);
  const where = inexactInteger(args);
  inexactSeen.set(args, where);
  return where;
}

/**
 * Parses, checks and plans a condition.
 *
 * @throws TypeError with a message saying what is wrong with the expression.
 * @example
 * const c = compileCondition('"eng" in principal.groups && args.path.startsWith("/tmp/")');
 * c.evaluate(input); // { ok: true, value: true }
 */
export function compileCondition(source: string): Condition {
  const checked = checkCondition(source);
  if (!checked.ok) throw new TypeError(checked.error);
  const { parsed, usesArgs } = checked;
  const run = plan(env, parsed);
  return {
    source,
    usesArgs,
    evaluate(input) {
      if (usesArgs) {
        const where = inexactIntegerOf(input.args);
        if (where !== undefined) {
          return {
            ok: false,
            error: `args${where} is an integer beyond ±2^53, which the condition cannot read exactly`,
          };
        }
      }
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
