/**
 * Globs for method and target names: `*` matches any run of characters (also none, also `/`), `?`
 * exactly one, everything else itself. Matching is a two-pointer walk whose cost is bounded by
 * pattern length × name length, so no pattern an administrator writes can make a request slow (a
 * backtracking RegExp such as `^.*a.*a.*a.*b$` can take exponential time).
 *
 * @module
 */

/** Longest accepted pattern. */
export const MAX_GLOB_LENGTH = 512;

/** Whether `name` matches the glob `pattern`. */
export function globMatches(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  // Where the last `*` was seen, and the name position it is currently assumed to cover up to.
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    const c = pattern[p];
    if (c === '*') {
      star = p++;
      mark = n;
    } else if (c !== undefined && (c === '?' || c === name[n])) {
      p++;
      n++;
    } else if (star !== -1) {
      // Let the last star swallow one more character and retry from just after it.
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}

/** A compiled set of globs: matches when any glob matches. An empty set matches everything. */
export interface GlobSet {
  readonly patterns: readonly string[];
  matches(name: string): boolean;
}

/**
 * Compiles globs once per configuration: exact names go in a set, only real globs are walked.
 *
 * @throws TypeError naming the pattern when one is empty or longer than {@link MAX_GLOB_LENGTH}.
 * @example
 * compileGlobs(['search_*', 'read_file']).matches('search_web'); // true
 */
export function compileGlobs(patterns: readonly string[]): GlobSet {
  const exact = new Set<string>();
  const wild: string[] = [];
  for (const p of patterns) {
    if (p.length === 0) throw new TypeError('a glob must not be empty');
    if (p.length > MAX_GLOB_LENGTH)
      throw new TypeError(`glob "${p.slice(0, 32)}…" is longer than ${MAX_GLOB_LENGTH}`);
    // Runs of stars mean the same as one and would only cost time.
    if (/[*?]/.test(p)) wild.push(p.replace(/\*{2,}/g, '*'));
    else exact.add(p);
  }
  const any = patterns.length === 0 || wild.includes('*');
  return {
    patterns: [...patterns],
    matches(name) {
      if (any || exact.has(name)) return true;
      for (const w of wild) if (globMatches(w, name)) return true;
      return false;
    },
  };
}
