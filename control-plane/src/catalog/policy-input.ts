/**
 * Validation of a server's policy as the admin API receives it (`PUT /api/v1/servers/:name/policy`):
 * rules, rate limits, filter webhooks and audit body capture. Pure: returns the normalised value or
 * throws `TESSERA_INVALID_ARGUMENT` naming the field, so a bad policy changes nothing.
 *
 * The proxy validates the pushed policy again (and NACKs what it cannot use); checking here gives the
 * administrator the error at once. Conditions go through the same checker as the proxy's
 * (`@tessera/api/policy/cel-limits`), so a condition accepted here is never refused by a proxy.
 *
 * @module
 */
import { checkCondition, MAX_CONDITION_LENGTH } from '@tessera/api/policy/cel-limits';
import { TesseraError } from '../errors.ts';
import { SERVER_NAME } from './server-input.ts';

export interface PrincipalsInput {
  users: string[];
  groups: string[];
  clientIds: string[];
  claims: Array<{ claim: string; values: string[] }>;
}

export interface RuleInput {
  id: string;
  effect: 'ALLOW' | 'DENY';
  principals?: PrincipalsInput;
  methods: string[];
  targets: string[];
  condition: string;
}

export interface BucketInput {
  capacity: number;
  refillPerSecond: number;
}

export interface FilterInput {
  name: string;
  url: string;
  phase: 'request' | 'response';
  methods: string[];
  targets: string[];
  timeoutMs: number;
  mayMutate: boolean;
  hmacSecret: string;
}

/** A server's policy beyond its grants, as stored (jsonb) and pushed. */
export interface PolicyInput {
  rules: RuleInput[];
  rateLimits: { perUser?: BucketInput; perTool?: BucketInput };
  filters: FilterInput[];
  auditBodies: { enabled: boolean; maxBytes: number };
}

/** A filter as stored: its secret is sealed apart (`filter-secrets.ts`). */
export type StoredFilter = Omit<FilterInput, 'hmacSecret'>;

/** The policy as stored in `mcp_servers.policy`: no secrets. */
export type StoredPolicy = Omit<PolicyInput, 'filters'> & { filters: StoredFilter[] };

export const EMPTY_POLICY: PolicyInput = {
  rules: [],
  rateLimits: {},
  filters: [],
  auditBodies: { enabled: false, maxBytes: 0 },
};

/** Filter URLs past this are refused; a webhook URL needs no more. */
const MAX_FILTER_URL = 2048;

const RULE_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

function bad(message: string): TesseraError {
  return new TesseraError('TESSERA_INVALID_ARGUMENT', message);
}

function object(value: unknown, field: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw bad(`"${field}" must be a JSON object`);
  for (const k of Object.keys(value)) if (!keys.includes(k)) throw bad(`unknown field "${field}.${k}"`);
  return value as Record<string, unknown>;
}

function strings(value: unknown, field: string, max = 256): string[] {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    value.length > max ||
    !value.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 512)
  ) {
    throw bad(`"${field}" must be an array of at most ${max} non-empty strings (≤ 512 characters)`);
  }
  return [...(value as string[])];
}

function int(value: unknown, field: string, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw bad(`"${field}" must be an integer in ${min}..${max}`);
  }
  return value;
}

function bool(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (typeof value !== 'boolean') throw bad(`"${field}" must be true or false`);
  return value;
}

function principals(value: unknown, field: string): PrincipalsInput | undefined {
  if (value === undefined) return undefined;
  const p = object(value, field, ['users', 'groups', 'clientIds', 'claims']);
  const claims = p.claims ?? [];
  if (!Array.isArray(claims) || claims.length > 32)
    throw bad(`"${field}.claims" must be an array of at most 32 matchers`);
  return {
    users: strings(p.users, `${field}.users`, 1000),
    groups: strings(p.groups, `${field}.groups`, 1000),
    clientIds: strings(p.clientIds, `${field}.clientIds`),
    claims: claims.map((c, i) => {
      const at = `${field}.claims[${i}]`;
      const m = object(c, at, ['claim', 'values']);
      if (typeof m.claim !== 'string' || m.claim === '')
        throw bad(`"${at}.claim" must be a non-empty string`);
      const values = strings(m.values, `${at}.values`);
      if (values.length === 0) throw bad(`"${at}.values" must list at least one value`);
      return { claim: m.claim, values };
    }),
  };
}

function rule(value: unknown, i: number, ids: Set<string>): RuleInput {
  const at = `rules[${i}]`;
  const r = object(value, at, ['id', 'effect', 'principals', 'methods', 'targets', 'condition']);
  if (typeof r.id !== 'string' || !RULE_ID.test(r.id))
    throw bad(`"${at}.id" must be 1-128 letters, digits, "_.:-"`);
  if (ids.has(r.id)) throw bad(`rule "${r.id}" is defined twice`);
  ids.add(r.id);
  if (r.effect !== 'ALLOW' && r.effect !== 'DENY')
    throw bad(`rule "${r.id}": "effect" must be "ALLOW" or "DENY"`);
  const condition = r.condition ?? '';
  if (typeof condition !== 'string' || condition.length > MAX_CONDITION_LENGTH) {
    throw bad(
      `rule "${r.id}": "condition" must be a CEL expression of at most ${MAX_CONDITION_LENGTH} characters`,
    );
  }
  if (condition !== '') {
    const checked = checkCondition(condition);
    if (!checked.ok) throw bad(`rule "${r.id}": "condition" is not accepted: ${checked.error}`);
  }
  return {
    id: r.id,
    effect: r.effect,
    principals: principals(r.principals, `${at}.principals`),
    methods: strings(r.methods, `${at}.methods`),
    targets: strings(r.targets, `${at}.targets`),
    condition,
  };
}

function bucket(value: unknown, field: string): BucketInput | undefined {
  if (value === undefined) return undefined;
  const b = object(value, field, ['capacity', 'refillPerSecond']);
  const capacity = int(b.capacity ?? -1, `${field}.capacity`, 1, 1_000_000, 0);
  if (typeof b.refillPerSecond !== 'number' || !(b.refillPerSecond > 0) || b.refillPerSecond > 1_000_000) {
    throw bad(`"${field}.refillPerSecond" must be a number > 0 and ≤ 1000000`);
  }
  return { capacity, refillPerSecond: b.refillPerSecond };
}

function filter(value: unknown, i: number, names: Set<string>): FilterInput {
  const at = `filters[${i}]`;
  const f = object(value, at, [
    'name',
    'url',
    'phase',
    'methods',
    'targets',
    'timeoutMs',
    'mayMutate',
    'hmacSecret',
  ]);
  if (typeof f.name !== 'string' || !SERVER_NAME.test(f.name)) throw bad(`"${at}.name" must be a DNS label`);
  if (names.has(f.name)) throw bad(`filter "${f.name}" is defined twice`);
  names.add(f.name);
  if (typeof f.url !== 'string' || f.url.length > MAX_FILTER_URL)
    throw bad(`filter "${f.name}": "url" must be a string of at most ${MAX_FILTER_URL} characters`);
  let url: URL;
  try {
    url = new URL(f.url);
  } catch {
    throw bad(`filter "${f.name}": "url" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw bad(
      `filter "${f.name}": "url" must be http or https (the proxy calls plain http only to hosts its TESSERA_PROXY_FILTER_ALLOW lists)`,
    );
  if (url.username || url.password) throw bad(`filter "${f.name}": "url" must not carry credentials`);
  if (f.phase !== 'request' && f.phase !== 'response')
    throw bad(`filter "${f.name}": "phase" must be "request" or "response"`);
  if (typeof f.hmacSecret !== 'string' || f.hmacSecret.length < 16 || f.hmacSecret.length > 1024) {
    throw bad(`filter "${f.name}": "hmacSecret" must be a string of 16 to 1024 characters`);
  }
  return {
    name: f.name,
    url: url.href,
    phase: f.phase,
    methods: strings(f.methods, `${at}.methods`),
    targets: strings(f.targets, `${at}.targets`),
    timeoutMs: int(f.timeoutMs, `${at}.timeoutMs`, 1, 30_000, 2000),
    mayMutate: bool(f.mayMutate, `${at}.mayMutate`),
    hmacSecret: f.hmacSecret,
  };
}

/**
 * Validates `{ rules?, rateLimits?, filters?, auditBodies? }`; absent parts are empty (no rules, no
 * limits, no filters, no body capture).
 *
 * @throws TesseraError `TESSERA_INVALID_ARGUMENT` naming the field or rule.
 */
export function parsePolicyInput(body: unknown): PolicyInput {
  const b = object(body, 'body', ['rules', 'rateLimits', 'filters', 'auditBodies']);
  const rules = b.rules ?? [];
  const filters = b.filters ?? [];
  if (!Array.isArray(rules) || rules.length > 500) throw bad('"rules" must be an array of at most 500 rules');
  if (!Array.isArray(filters) || filters.length > 16)
    throw bad('"filters" must be an array of at most 16 filters');
  const limits = object(b.rateLimits ?? {}, 'rateLimits', ['perUser', 'perTool']);
  const bodies = object(b.auditBodies ?? {}, 'auditBodies', ['enabled', 'maxBytes']);
  const ids = new Set<string>();
  const names = new Set<string>();
  const perUser = bucket(limits.perUser, 'rateLimits.perUser');
  const perTool = bucket(limits.perTool, 'rateLimits.perTool');
  return {
    rules: rules.map((r, i) => rule(r, i, ids)),
    rateLimits: { ...(perUser ? { perUser } : {}), ...(perTool ? { perTool } : {}) },
    filters: filters.map((f, i) => filter(f, i, names)),
    auditBodies: {
      enabled: bool(bodies.enabled, 'auditBodies.enabled'),
      maxBytes: int(bodies.maxBytes, 'auditBodies.maxBytes', 1, 65_536, 4096),
    },
  };
}

/** The policy as the admin API shows it: filter secrets are never returned. */
export function policyView(p: StoredPolicy) {
  return { ...p, filters: p.filters.map((f) => ({ ...f, hmacSecret: '(set)' })) };
}
