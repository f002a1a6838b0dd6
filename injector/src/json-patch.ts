/**
 * RFC 6902 JSON Patch between two JSON documents. The webhook computes the injected pod as a whole and
 * answers with the difference, so the template code never has to think in patch operations (istio's
 * `createPatch`).
 *
 * @module
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

export type PatchOperation =
  | { op: 'add'; path: string; value: JsonValue }
  | { op: 'replace'; path: string; value: JsonValue }
  | { op: 'remove'; path: string };

/** Escapes one reference token (RFC 6901 §3): `~` first, so that the `~1` written for `/` survives. */
export function escapePointerToken(token: string): string {
  return token.replaceAll('~', '~0').replaceAll('/', '~1');
}

function unescapePointerToken(token: string): string {
  return token.replaceAll('~1', '/').replaceAll('~0', '~');
}

function isObject(v: JsonValue): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep equality of JSON values; key order does not matter. */
export function jsonEqual(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]!));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    return (
      ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k]!, b[k]!))
    );
  }
  return false;
}

function diff(a: JsonValue, b: JsonValue, path: string, out: PatchOperation[]): void {
  if (jsonEqual(a, b)) return;
  if (Array.isArray(a) && Array.isArray(b)) {
    diffArrays(a, b, path, out);
    return;
  }
  if (isObject(a) && isObject(b)) {
    for (const key of Object.keys(a)) {
      const p = `${path}/${escapePointerToken(key)}`;
      if (!Object.hasOwn(b, key)) out.push({ op: 'remove', path: p });
      else diff(a[key]!, b[key]!, p, out);
    }
    for (const key of Object.keys(b)) {
      if (!Object.hasOwn(a, key))
        out.push({ op: 'add', path: `${path}/${escapePointerToken(key)}`, value: b[key]! });
    }
    return;
  }
  out.push({ op: 'replace', path, value: b });
}

/**
 * Equal leading and trailing elements are left alone, so that prepending a container is one `add`
 * rather than a rewrite of every container after it. The middle is diffed pairwise, then shortened or
 * extended; indices stay valid because removals and additions happen at the end of the middle.
 */
function diffArrays(a: JsonValue[], b: JsonValue[], path: string, out: PatchOperation[]): void {
  let prefix = 0;
  while (prefix < a.length && prefix < b.length && jsonEqual(a[prefix]!, b[prefix]!)) prefix++;
  let suffix = 0;
  while (
    suffix < a.length - prefix &&
    suffix < b.length - prefix &&
    jsonEqual(a[a.length - 1 - suffix]!, b[b.length - 1 - suffix]!)
  ) {
    suffix++;
  }
  const oldMiddle = a.length - prefix - suffix;
  const newMiddle = b.length - prefix - suffix;
  const paired = Math.min(oldMiddle, newMiddle);
  for (let i = 0; i < paired; i++) diff(a[prefix + i]!, b[prefix + i]!, `${path}/${prefix + i}`, out);
  for (let i = paired; i < oldMiddle; i++) out.push({ op: 'remove', path: `${path}/${prefix + paired}` });
  for (let i = paired; i < newMiddle; i++)
    out.push({ op: 'add', path: `${path}/${prefix + i}`, value: b[prefix + i]! });
}

/**
 * The operations that turn `original` into `final`.
 *
 * @example
 * createPatch({ a: 1 }, { a: 1, b: 2 }); // [{ op: 'add', path: '/b', value: 2 }]
 */
export function createPatch(original: JsonValue, final: JsonValue): PatchOperation[] {
  const out: PatchOperation[] = [];
  diff(original, final, '', out);
  return out;
}

function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new TypeError(`JSON pointer "${path}" must start with "/"`);
  return path.slice(1).split('/').map(unescapePointerToken);
}

function arrayIndex(arr: JsonValue[], token: string, forAdd: boolean, path: string): number {
  if (forAdd && token === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(token)) throw new TypeError(`"${token}" in "${path}" is not an array index`);
  const i = Number(token);
  if (i > arr.length || (!forAdd && i === arr.length))
    throw new TypeError(`index ${i} in "${path}" is out of range`);
  return i;
}

function applyOne(doc: JsonValue, op: PatchOperation): JsonValue {
  const tokens = parsePointer(op.path);
  if (tokens.length === 0) {
    if (op.op === 'remove') throw new TypeError('cannot remove the whole document');
    return structuredClone(op.value);
  }
  let parent: JsonValue = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(parent)) parent = parent[arrayIndex(parent, token, false, op.path)]!;
    else if (isObject(parent) && Object.hasOwn(parent, token)) parent = parent[token]!;
    else throw new TypeError(`"${op.path}" does not exist`);
  }
  const last = tokens.at(-1)!;
  if (Array.isArray(parent)) {
    const i = arrayIndex(parent, last, op.op === 'add', op.path);
    if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
    else if (op.op === 'replace') parent[i] = structuredClone(op.value);
    else parent.splice(i, 1);
  } else if (isObject(parent)) {
    if (op.op !== 'add' && !Object.hasOwn(parent, last)) throw new TypeError(`"${op.path}" does not exist`);
    if (op.op === 'remove') delete parent[last];
    else parent[last] = structuredClone(op.value);
  } else {
    throw new TypeError(`"${op.path}" has no container to change`);
  }
  return doc;
}

/**
 * Applies a patch to a copy of `doc`, as the API server would; the original is left unchanged.
 *
 * @throws TypeError naming the path that does not apply.
 */
export function applyPatch(doc: JsonValue, patch: readonly PatchOperation[]): JsonValue {
  let result = structuredClone(doc);
  for (const op of patch) result = applyOne(result, op);
  return result;
}
