/**
 * The policy engine: one pure decision function for every question the proxy asks — may this caller
 * send this JSON-RPC method for this target with these arguments, and which entries of a
 * `tools/list`, `prompts/list` or `resources/list` answer may it see.
 *
 * Algorithm of {@link PolicyEngine.decide}:
 *   1. every DENY rule that matches (principal, method glob, target glob, condition) denies;
 *   2. else the first ALLOW rule (grants first, then rules in order) that matches allows;
 *   3. else the request is denied by default (`default-deny`).
 * A condition that fails to evaluate denies at once (fail closed), naming the rule.
 *
 * In list mode (deciding whether an entry appears in a list answer) there are no arguments: a condition
 * that reads `args` cannot be decided, so such a DENY rule is skipped (it does not deny every call)
 * and such an ALLOW rule counts (some calls may pass); the call itself is decided again with its
 * arguments.
 *
 * @module
 */
import { createRequire } from 'node:module';
import type { Condition } from './cel-condition.ts';
import { compileGlobs, type GlobSet } from './glob.ts';

// CEL (`@bufbuild/cel`, about 8 MB of private memory) is loaded when a rule first has a condition,
// so a proxy whose rules have none never maps it. Synchronously, because a configuration is
// compiled in one step; `compile-cache-warmup.ts` compiles it ahead of time for the proxy image.
const require = createRequire(import.meta.url);
let cel: typeof import('./cel-condition.ts') | undefined;
function compileCondition(source: string): Condition {
  cel ??= require('./cel-condition.ts') as typeof import('./cel-condition.ts');
  return cel.compileCondition(source);
}

/** A rule's effect. */
export const Effect = { Allow: 'ALLOW', Deny: 'DENY' } as const;
export type Effect = (typeof Effect)[keyof typeof Effect];

/** Who is calling, as the engine sees it. */
export interface Caller {
  name: string;
  subject: string;
  groups: readonly string[];
  clientId: string;
  claims: Readonly<Record<string, unknown>>;
}

export interface PrincipalsSpec {
  users: readonly string[];
  groups: readonly string[];
  clientIds: readonly string[];
  claims: ReadonlyArray<{ claim: string; values: readonly string[] }>;
}

export interface RuleSpec {
  id: string;
  effect: Effect;
  principals: PrincipalsSpec | undefined;
  methods: readonly string[];
  targets: readonly string[];
  condition: string;
}

export interface PolicySpec {
  grants: ReadonlyArray<{ users: readonly string[]; groups: readonly string[] }>;
  rules: readonly RuleSpec[];
}

export interface Decision {
  effect: Effect;
  /** The rule that decided: a rule id, `grant:user:<name>`, `grant:group:<name>` or `default-deny`. */
  ruleId: string;
  /** A sentence for the caller and the audit. */
  reason: string;
}

export interface PolicyEngine {
  /**
   * Decides one request. `args` is `params.arguments` (undefined when absent).
   *
   * @example
   * engine.decide(caller, 'tools/call', 'delete_repo', { repo: 'x' });
   * // { effect: 'DENY', ruleId: 'no-deletes', reason: 'denied by rule "no-deletes"' }
   */
  decide(caller: Caller, method: string, target: string, args: unknown): Decision;
  /** Whether a list entry (the method that would use it, and its name or URI) is shown to the caller. */
  visible(caller: Caller, method: string, target: string): boolean;
}

interface CompiledRule {
  id: string;
  effect: Effect;
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
  clientIds: ReadonlySet<string>;
  claims: ReadonlyArray<{ claim: string; values: ReadonlySet<string> }>;
  methods: GlobSet;
  targets: GlobSet;
  condition: Condition | undefined;
}

const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

function principalMatches(rule: CompiledRule, caller: Caller): boolean {
  if (rule.users.size > 0 || rule.groups.size > 0) {
    if (!rule.users.has(caller.name) && !caller.groups.some((g) => rule.groups.has(g))) return false;
  }
  if (rule.clientIds.size > 0 && !rule.clientIds.has(caller.clientId)) return false;
  for (const m of rule.claims) {
    const v = caller.claims[m.claim];
    const ok =
      typeof v === 'string'
        ? m.values.has(v)
        : Array.isArray(v) && v.some((x) => typeof x === 'string' && m.values.has(x));
    if (!ok) return false;
  }
  return true;
}

/**
 * Compiles a policy once per configuration.
 *
 * @throws TypeError naming the rule and what is wrong with it (duplicate id, bad effect, empty glob,
 *   bad CEL condition).
 */
export function compilePolicy(spec: PolicySpec): PolicyEngine {
  const allow: CompiledRule[] = [];
  const deny: CompiledRule[] = [];
  const none = compileGlobs([]);
  for (const g of spec.grants) {
    for (const u of g.users) allow.push(grantRule(`grant:user:${u}`, [u], []));
    for (const gr of g.groups) allow.push(grantRule(`grant:group:${gr}`, [], [gr]));
  }
  function grantRule(id: string, users: string[], groups: string[]): CompiledRule {
    const base = { clientIds: new Set<string>(), claims: [], methods: none, targets: none };
    return {
      id,
      effect: Effect.Allow,
      users: new Set(users),
      groups: new Set(groups),
      ...base,
      condition: undefined,
    };
  }
  const ids = new Set<string>();
  for (const r of spec.rules) {
    const where = `rule "${r.id}"`;
    if (!RULE_ID.test(r.id)) throw new TypeError(`rule id "${r.id}" must be 1-128 letters, digits, "_.:-"`);
    if (ids.has(r.id)) throw new TypeError(`${where} is defined twice`);
    ids.add(r.id);
    if (r.effect !== Effect.Allow && r.effect !== Effect.Deny) {
      throw new TypeError(`${where}: effect must be "ALLOW" or "DENY", got "${r.effect}"`);
    }
    const p = r.principals;
    let methods: GlobSet;
    let targets: GlobSet;
    let condition: Condition | undefined;
    try {
      methods = compileGlobs(r.methods);
      targets = compileGlobs(r.targets);
    } catch (err) {
      throw new TypeError(`${where}: ${(err as Error).message}`);
    }
    if (p?.claims.some((c) => c.claim === '' || c.values.length === 0)) {
      throw new TypeError(`${where}: a claim matcher needs a claim name and at least one value`);
    }
    try {
      condition = r.condition === '' ? undefined : compileCondition(r.condition);
    } catch (err) {
      throw new TypeError(`${where}: condition ${(err as Error).message}`);
    }
    const compiled: CompiledRule = {
      id: r.id,
      effect: r.effect,
      users: new Set(p?.users ?? []),
      groups: new Set(p?.groups ?? []),
      clientIds: new Set(p?.clientIds ?? []),
      claims: (p?.claims ?? []).map((c) => ({ claim: c.claim, values: new Set(c.values) })),
      methods,
      targets,
      condition,
    };
    (r.effect === Effect.Deny ? deny : allow).push(compiled);
  }

  type Match = 'yes' | 'no' | { error: string };
  function matches(
    rule: CompiledRule,
    caller: Caller,
    method: string,
    target: string,
    args: unknown,
    listing: boolean,
  ): Match {
    if (!rule.methods.matches(method) || !rule.targets.matches(target)) return 'no';
    if (!principalMatches(rule, caller)) return 'no';
    const c = rule.condition;
    if (!c) return 'yes';
    if (listing && c.usesArgs) return rule.effect === Effect.Allow ? 'yes' : 'no';
    const out = c.evaluate({
      principal: {
        name: caller.name,
        subject: caller.subject,
        groups: caller.groups,
        client_id: caller.clientId,
      },
      claims: caller.claims,
      method,
      target,
      args: args ?? {},
    });
    if (!out.ok) return { error: out.error };
    return out.value ? 'yes' : 'no';
  }

  function decideIn(
    caller: Caller,
    method: string,
    target: string,
    args: unknown,
    listing: boolean,
  ): Decision {
    // 1. DENY rules, all of them: any match (or a failing condition) denies.
    for (const rule of deny) {
      const m = matches(rule, caller, method, target, args, listing);
      if (m === 'no') continue;
      if (m === 'yes') return { effect: Effect.Deny, ruleId: rule.id, reason: `denied by rule "${rule.id}"` };
      return failed(rule, m.error);
    }
    // 2. ALLOW rules: the first match allows.
    for (const rule of allow) {
      const m = matches(rule, caller, method, target, args, listing);
      if (m === 'no') continue;
      if (m === 'yes')
        return { effect: Effect.Allow, ruleId: rule.id, reason: `allowed by rule "${rule.id}"` };
      return failed(rule, m.error);
    }
    // 3. Nothing allowed it.
    const what = target ? `${method} "${target}"` : method;
    return {
      effect: Effect.Deny,
      ruleId: 'default-deny',
      reason: `no rule allows ${what} for "${caller.name}"`,
    };
  }

  return {
    decide: (caller, method, target, args) => decideIn(caller, method, target, args, false),
    visible: (caller, method, target) =>
      decideIn(caller, method, target, undefined, true).effect === Effect.Allow,
  };
}

function failed(rule: { id: string }, error: string): Decision {
  return {
    effect: Effect.Deny,
    ruleId: rule.id,
    reason: `the condition of rule "${rule.id}" failed to evaluate (${error}); denied`,
  };
}
