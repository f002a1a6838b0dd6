/**
 * Finds integers a parsed JSON value may hold inexactly. `JSON.parse` reads every number as a
 * double, so an integer literal beyond ±2^53 arrives rounded (`9007199254740993` is read as
 * `9007199254740992`), while a server that reads it into a 64-bit integer keeps it exact. A
 * condition judging such an argument would judge another value than the server acts on.
 *
 * @module
 */

/**
 * The path (`.a.b[2]`) of the first integer-valued number in `value` whose magnitude is beyond
 * `Number.MAX_SAFE_INTEGER`, or `undefined` when there is none. Such a double may be a rounded
 * literal; an exact one (`1e300`) is reported too, since the two cannot be told apart after parsing.
 */
export function inexactInteger(value: unknown): string | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && !Number.isSafeInteger(value) ? '' : undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner = inexactInteger(value[i]);
      if (inner !== undefined) return `[${i}]${inner}`;
    }
    return undefined;
  }
  for (const key of Object.keys(value)) {
    const inner = inexactInteger((value as Record<string, unknown>)[key]);
    if (inner !== undefined) return `.${key}${inner}`;
  }
  return undefined;
}
