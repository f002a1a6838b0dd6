/**
 * The `x-mcp-header` annotations of a server's tools (2026-07-28 transports/streamable-http §Custom Headers
 * from Tool Parameters): which argument each `Mcp-Param-{Name}` header of a `tools/call` mirrors.
 *
 * An annotation is valid when its name is an RFC 9110 token, unique (case-insensitively) in the schema,
 * on a `string`, `integer` or `boolean` property, and that property is reachable from the schema root
 * through `properties` keys alone. One invalid annotation invalidates the whole tool: conforming clients
 * drop such a tool from their list, so the proxy learns nothing about it and leaves the call to the
 * upstream. Schemas are walked within limits, so a hostile list costs bounded time and memory.
 *
 * Pure: a `tools/list` result in, maps out.
 *
 * @module
 */
import type { ParamHeaderMap } from './request-metadata.ts';

export interface ParamHeaderLimits {
  /** Annotated tools learned from one list; more are ignored (their calls go unchecked to the upstream). */
  maxTools: number;
  /** Annotations per tool; a tool with more is ignored. */
  maxHeadersPerTool: number;
  /** JSON values visited in one tool's `inputSchema`; a larger schema is ignored. */
  maxSchemaNodes: number;
  /** Nesting depth of one tool's `inputSchema`; a deeper schema is ignored. */
  maxDepth: number;
}

export const defaultParamHeaderLimits: ParamHeaderLimits = {
  maxTools: 1000,
  maxHeadersPerTool: 32,
  maxSchemaNodes: 10_000,
  maxDepth: 32,
};

/** A tool's annotations, or why they are not usable. */
export type SchemaParamHeaders = { ok: true; headers: ParamHeaderMap } | { ok: false; reason: string };

export interface ListParamHeaders {
  /** Tools with at least one annotation, all valid: tool name → header suffix (lower case) → path. */
  tools: Map<string, ParamHeaderMap>;
  /** Every tool name the list carries, annotated or not. */
  listed: Set<string>;
  /** Tools whose annotations were not learned, and why. */
  ignored: { tool: string; reason: string }[];
}

const ANNOTATION = 'x-mcp-header';
// RFC 9110 §5.1 field-name: 1*tchar.
const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const primitive = new Set(['string', 'integer', 'boolean']);
// Keywords whose values are instances, not schemas: an "x-mcp-header" key inside them is data.
const dataKeywords = new Set(['const', 'enum', 'default', 'examples']);

class Invalid extends Error {}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `type: "string"`, or `type: ["string", "null"]`: one primitive, optionally nullable. */
function primitiveType(type: unknown): boolean {
  if (typeof type === 'string') return primitive.has(type);
  if (!Array.isArray(type)) return false;
  const rest = type.filter((t) => t !== 'null');
  return rest.length === 1 && primitive.has(rest[0]);
}

/**
 * The annotations of one `inputSchema`. A schema that is not an object has none.
 *
 * @example
 * schemaParamHeaders({ type: 'object', properties: { region: { type: 'string', 'x-mcp-header': 'Region' } } })
 * // → { ok: true, headers: Map { 'region' => ['region'] } }
 */
export function schemaParamHeaders(
  inputSchema: unknown,
  limits: ParamHeaderLimits = defaultParamHeaderLimits,
): SchemaParamHeaders {
  const headers = new Map<string, readonly string[]>();
  let nodes = 0;
  // `path` is the chain of `properties` keys from the root, or undefined once the walk has left it.
  const walk = (node: unknown, path: string[] | undefined, depth: number): void => {
    if (++nodes > limits.maxSchemaNodes)
      throw new Invalid(`inputSchema has more than ${limits.maxSchemaNodes} values`);
    if (depth > limits.maxDepth) throw new Invalid(`inputSchema is nested deeper than ${limits.maxDepth}`);
    if (Array.isArray(node)) {
      for (const item of node) walk(item, undefined, depth + 1);
      return;
    }
    if (!isObject(node)) return;
    if (Object.hasOwn(node, ANNOTATION)) {
      const name = node[ANNOTATION];
      const shown = JSON.stringify(name);
      if (typeof name !== 'string' || !token.test(name))
        throw new Invalid(`x-mcp-header ${shown} is not an HTTP field-name token`);
      if (!path || path.length === 0)
        throw new Invalid(`x-mcp-header ${shown} is not reachable from the root through properties alone`);
      if (!primitiveType(node.type))
        throw new Invalid(
          `x-mcp-header ${shown} is on a property of type ${JSON.stringify(node.type)} (string, integer or boolean only)`,
        );
      const key = name.toLowerCase();
      if (headers.has(key)) throw new Invalid(`x-mcp-header ${shown} is not unique (case-insensitively)`);
      if (headers.size >= limits.maxHeadersPerTool)
        throw new Invalid(`more than ${limits.maxHeadersPerTool} x-mcp-header annotations`);
      headers.set(key, path);
    }
    for (const [keyword, value] of Object.entries(node)) {
      if (keyword === ANNOTATION || dataKeywords.has(keyword)) continue;
      if (keyword === 'properties' && isObject(value)) {
        for (const [prop, sub] of Object.entries(value)) walk(sub, path && [...path, prop], depth + 1);
      } else {
        walk(value, undefined, depth + 1);
      }
    }
  };
  if (!isObject(inputSchema)) return { ok: true, headers };
  try {
    walk(inputSchema, [], 0);
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: err.message };
    throw err;
  }
  return { ok: true, headers };
}

/**
 * The annotations of every tool in a `tools/list` result (`{ tools: [...] }`). Entries that are not
 * tools with a string name are skipped; a name listed twice keeps its last definition.
 */
export function listParamHeaders(
  result: unknown,
  limits: ParamHeaderLimits = defaultParamHeaderLimits,
): ListParamHeaders {
  const out: ListParamHeaders = { tools: new Map(), listed: new Set(), ignored: [] };
  const tools = isObject(result) ? result.tools : undefined;
  if (!Array.isArray(tools)) return out;
  for (const tool of tools) {
    if (!isObject(tool) || typeof tool.name !== 'string') continue;
    const name = tool.name;
    out.listed.add(name);
    out.tools.delete(name);
    const found = schemaParamHeaders(tool.inputSchema, limits);
    if (!found.ok) out.ignored.push({ tool: name, reason: found.reason });
    else if (found.headers.size > 0 && out.tools.size >= limits.maxTools)
      out.ignored.push({ tool: name, reason: `more than ${limits.maxTools} annotated tools` });
    else if (found.headers.size > 0) out.tools.set(name, found.headers);
  }
  return out;
}
