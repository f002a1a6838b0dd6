/**
 * Checks the structure of a JSON text before the proxy parses and judges it: how deep it nests, and
 * whether any object has member names that two parsers could read as different messages.
 *
 * The proxy judges a request by its own parse (`JSON.parse`) and forwards the client's bytes to an
 * HTTP upstream unchanged. Where the upstream's parser reads the same bytes otherwise, policy judged
 * one call and the server runs another. Two such differences are known to be exploitable in MCP
 * servers: duplicate member names (`JSON.parse` keeps the last; some parsers keep the first), and
 * names that differ only in case (Go's `encoding/json` matches struct fields case-insensitively, with
 * Unicode folding: `"NAME"` and `"name"`, `"paramſ"` and `"params"`, so
 * `{"name":"lookup","NAME":"wipe"}` was judged as `lookup` and ran `wipe` on the Go SDK before
 * CVE-2026-27896). Neither is ever produced by a JSON serializer, so every such object is refused,
 * wherever it is in the message (tool arguments are decoded into structs as well).
 *
 * One pass over the text; strings are skipped with `indexOf`, and an object with many members is
 * checked through a map, so the work stays linear in the body size whatever its shape.
 *
 * @module
 */

/** What is wrong with a text's structure; `undefined` when nothing is. */
export type JsonStructureProblem = { kind: 'depth' } | { kind: 'ambiguous_names'; message: string };

const DEPTH: JsonStructureProblem = { kind: 'depth' };

/** Objects with more members than this are checked through a map instead of a list. */
const LIST_LIMIT = 16;

/** One open object or array. Reused across calls (the check is synchronous). */
interface Level {
  object: boolean;
  /** The next string in this object is a member name. */
  expectName: boolean;
  /** The member whose value is being read (objects), or the element's index (arrays). */
  name: string;
  index: number;
  folded: string[];
  names: string[];
  map: Map<string, string> | undefined;
}

const levels: Level[] = [];

function open(depth: number, object: boolean): void {
  let level = levels[depth];
  if (!level) {
    level = { object, expectName: object, name: '', index: 0, folded: [], names: [], map: undefined };
    levels[depth] = level;
    return;
  }
  level.object = object;
  level.expectName = object;
  level.name = '';
  level.index = 0;
  level.folded.length = 0;
  level.names.length = 0;
  level.map = undefined;
}

/**
 * The name as case-insensitive matchers see it. Lowering, uppercasing and lowering again puts every
 * Unicode simple case-folding pair together (`K` U+212A and `k`, `ſ` U+017F and `s`, `ẞ` and `ß`);
 * it also joins a few names such a matcher would keep apart (`ß` and `ss`), which only refuses more.
 */
function fold(name: string): string {
  for (let i = 0; i < name.length; i++) {
    if (name.charCodeAt(i) > 0x7f) return name.toLowerCase().toUpperCase().toLowerCase();
  }
  return name.toLowerCase();
}

/** Where the object at `depth` sits in the message, as `params.arguments.items[2]`. */
function pathTo(depth: number): string {
  let path = '';
  for (let d = 0; d < depth; d++) {
    const parent = levels[d]!;
    if (parent.object) path += path === '' ? parent.name : `.${parent.name}`;
    else path += `[${parent.index}]`;
  }
  return path === '' ? 'the message' : path;
}

function ambiguity(depth: number, earlier: string, name: string): JsonStructureProblem {
  const where = pathTo(depth);
  const message =
    earlier === name
      ? `${where} has the member "${name}" twice; parsers disagree on which one counts`
      : `${where} has the members "${earlier}" and "${name}", which differ only in case; ` +
        'servers that match names case-insensitively read them as one';
  return { kind: 'ambiguous_names', message };
}

/** Records a member name of the object at `depth`; a problem when it repeats or folds onto another. */
function addName(depth: number, name: string): JsonStructureProblem | undefined {
  const level = levels[depth]!;
  const folded = fold(name);
  if (level.map) {
    const earlier = level.map.get(folded);
    if (earlier !== undefined) return ambiguity(depth, earlier, name);
    level.map.set(folded, name);
    return undefined;
  }
  const i = level.folded.indexOf(folded);
  if (i >= 0) return ambiguity(depth, level.names[i]!, name);
  level.folded.push(folded);
  level.names.push(name);
  if (level.folded.length > LIST_LIMIT) {
    level.map = new Map(level.folded.map((f, k) => [f, level.names[k]!]));
  }
  return undefined;
}

/** The index of the quote that closes the string opening at `start`, or -1 if it never closes. */
function stringEnd(text: string, start: number): number {
  let from = start + 1;
  for (;;) {
    const quote = text.indexOf('"', from);
    if (quote < 0) return -1;
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === 92 /* \ */) backslashes++;
    if (backslashes % 2 === 0) return quote;
    from = quote + 1;
  }
}

/**
 * The first structural problem of `text`: nesting deeper than `maxDepth` objects and arrays, or an
 * object whose member names repeat or differ only in case (escapes decoded, so `"n\u0061me"` is
 * `"name"`). Text that is not valid JSON may get any answer; the caller's parse rejects it anyway,
 * and the depth answer is still sound for it.
 */
export function checkJsonStructure(text: string, maxDepth: number): JsonStructureProblem | undefined {
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      const end = stringEnd(text, i);
      if (end < 0) return undefined;
      const level = depth > 0 ? levels[depth - 1]! : undefined;
      if (level?.object && level.expectName) {
        let name = text.slice(i + 1, end);
        if (name.includes('\\')) {
          try {
            name = JSON.parse(text.slice(i, end + 1)) as string;
          } catch {
            return undefined;
          }
        }
        level.expectName = false;
        level.name = name;
        const problem = addName(depth - 1, name);
        if (problem) return problem;
      }
      i = end;
    } else if (c === 123 /* { */ || c === 91 /* [ */) {
      if (depth >= maxDepth) return DEPTH;
      open(depth++, c === 123);
    } else if (c === 125 /* } */ || c === 93 /* ] */) {
      if (depth > 0) depth--;
    } else if (c === 44 /* , */ && depth > 0) {
      const level = levels[depth - 1]!;
      if (level.object) level.expectName = true;
      else level.index++;
    }
  }
  return undefined;
}
