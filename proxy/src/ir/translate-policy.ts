/**
 * Translates a `ServerPolicy` into the policy IR: grants and rules compiled into one engine, rate
 * limits, filter webhooks and body capture, each validated. Any problem rejects the whole policy
 * with a message naming the rule, filter or field (the proxy NACKs it and keeps the previous one).
 *
 * @module
 */
import type { RateLimits, ServerPolicy, TokenBucket } from '@tessera/api/mesh/v1/config';
import { TesseraError } from '../errors.ts';
import { compileGlobs } from '../policies/glob.ts';
import { compilePolicy, type Effect } from '../policies/policy-engine.ts';
import type { BucketIR, FilterIR, PolicyIR } from './proxy-config.ts';

function invalid(message: string): TesseraError {
  return new TesseraError('TESSERA_CONFIG_INVALID', message);
}

const FILTER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const DEFAULT_FILTER_TIMEOUT_MS = 2000;
const DEFAULT_BODY_BYTES = 4096;

function bucket(field: string, b: TokenBucket | undefined): BucketIR | undefined {
  if (!b) return undefined;
  if (!Number.isInteger(b.capacity) || b.capacity < 1 || b.capacity > 1_000_000) {
    throw invalid(`${field}.capacity ${b.capacity} is outside 1..1000000`);
  }
  if (!Number.isFinite(b.refillPerSecond) || b.refillPerSecond <= 0 || b.refillPerSecond > 1_000_000) {
    throw invalid(`${field}.refill_per_second ${b.refillPerSecond} must be > 0 and ≤ 1000000`);
  }
  return { capacity: b.capacity, refillPerSecond: b.refillPerSecond };
}

function rateLimits(r: RateLimits | undefined): PolicyIR['rateLimits'] {
  return {
    perUser: bucket('ServerPolicy.rate_limits.per_user', r?.perUser),
    perTool: bucket('ServerPolicy.rate_limits.per_tool', r?.perTool),
  };
}

function filters(msg: ServerPolicy): FilterIR[] {
  const names = new Set<string>();
  return msg.filters.map((f) => {
    const where = `ServerPolicy.filters["${f.name}"]`;
    if (!FILTER_NAME.test(f.name))
      throw invalid(`ServerPolicy.filters: name "${f.name}" must be a DNS label`);
    if (names.has(f.name)) throw invalid(`${where} is defined twice`);
    names.add(f.name);
    let url: URL;
    try {
      url = new URL(f.url);
    } catch {
      throw invalid(`${where}.url "${f.url}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid(`${where}.url must be http(s)`);
    if (url.username || url.password) throw invalid(`${where}.url must not carry credentials`);
    if (f.phase !== 'request' && f.phase !== 'response') {
      throw invalid(`${where}.phase must be "request" or "response", got "${f.phase}"`);
    }
    if (f.timeoutMs > 30_000) throw invalid(`${where}.timeout_ms ${f.timeoutMs} is above 30000`);
    if (f.hmacSecret.length < 16) throw invalid(`${where}.hmac_secret must have at least 16 characters`);
    try {
      return {
        name: f.name,
        url,
        phase: f.phase,
        methods: compileGlobs(f.methods),
        targets: compileGlobs(f.targets),
        timeoutMs: f.timeoutMs || DEFAULT_FILTER_TIMEOUT_MS,
        mayMutate: f.mayMutate,
        secret: f.hmacSecret,
      };
    } catch (err) {
      throw invalid(`${where}: ${(err as Error).message}`);
    }
  });
}

export function translatePolicy(msg: ServerPolicy, expectedServer: string): PolicyIR {
  if (msg.server !== expectedServer) {
    throw invalid(`ServerPolicy.server is "${msg.server}" but this proxy fronts "${expectedServer}"`);
  }
  for (const g of msg.grants) {
    if (g.users.some((u) => !u)) throw invalid('ServerPolicy.grants: empty user name');
    if (g.groups.some((gr) => !gr)) throw invalid('ServerPolicy.grants: empty group name');
  }
  let engine: PolicyIR['engine'];
  try {
    engine = compilePolicy({
      grants: msg.grants,
      rules: msg.rules.map((r) => ({
        id: r.id,
        effect: r.effect as Effect,
        principals: r.principals,
        methods: r.methods,
        targets: r.targets,
        condition: r.condition,
      })),
    });
  } catch (err) {
    throw invalid(`ServerPolicy.rules: ${(err as Error).message}`);
  }
  const b = msg.auditBodies;
  if (b && b.maxBytes > 65_536)
    throw invalid(`ServerPolicy.audit_bodies.max_bytes ${b.maxBytes} is above 65536`);
  return {
    engine,
    rateLimits: rateLimits(msg.rateLimits),
    filters: filters(msg),
    auditBodies: b?.enabled ? { maxBytes: b.maxBytes || DEFAULT_BODY_BYTES } : undefined,
  };
}
