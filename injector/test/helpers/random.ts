/**
 * A seeded generator (mulberry32) so that property and fuzz tests are reproducible: a failure prints its
 * seed, and `TESSERA_FUZZ_SEED=<seed>` replays it.
 *
 * @module
 */
import type { JsonValue } from '../../src/json-patch.ts';

export interface Random {
  readonly seed: number;
  /** A float in [0, 1). */
  next(): number;
  int(maxExclusive: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
}

export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    seed,
    next,
    int: (max) => Math.floor(next() * max),
    pick: (items) => items[Math.floor(next() * items.length)]!,
    chance: (p) => next() < p,
  };
}

/** The base seed of a run: fixed in CI for reproducibility unless overridden. */
export function baseSeed(): number {
  const raw = process.env.TESSERA_FUZZ_SEED;
  return raw ? Number(raw) : 20_240_601;
}

const KEYS = ['a', 'b', 'x/y', 'm~n', '~1', '', 'name', '0', '-'];

/** A random JSON value of bounded depth, with keys that need RFC 6901 escaping. */
export function randomJson(r: Random, depth = 3): JsonValue {
  const kind = depth <= 0 ? r.int(4) : r.int(6);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return r.chance(0.5);
    case 2:
      return r.int(5);
    case 3:
      return r.pick(['', 's', 'mcp', '/']);
    case 4:
      return Array.from({ length: r.int(5) }, () => randomJson(r, depth - 1));
    default: {
      const o: Record<string, JsonValue> = {};
      for (let i = r.int(5); i > 0; i--) o[r.pick(KEYS)] = randomJson(r, depth - 1);
      return o;
    }
  }
}

/** A random edit of `v`: values changed, keys added or removed, array elements inserted or dropped. */
export function mutateJson(r: Random, v: JsonValue, depth = 3): JsonValue {
  if (r.chance(0.15) || depth <= 0) return randomJson(r, depth);
  if (Array.isArray(v)) {
    const out = v.map((e) => (r.chance(0.3) ? mutateJson(r, e, depth - 1) : e));
    if (r.chance(0.3)) out.splice(r.int(out.length + 1), 0, randomJson(r, depth - 1));
    if (r.chance(0.3) && out.length > 0) out.splice(r.int(out.length), 1);
    return out;
  }
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, JsonValue> = {};
    for (const [k, e] of Object.entries(v)) {
      if (r.chance(0.15)) continue;
      out[k] = r.chance(0.3) ? mutateJson(r, e, depth - 1) : e;
    }
    if (r.chance(0.3)) out[r.pick(KEYS)] = randomJson(r, depth - 1);
    return out;
  }
  return randomJson(r, depth);
}
