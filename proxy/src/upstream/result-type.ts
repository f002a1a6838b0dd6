/**
 * 2026-07-28 results say what they are in `resultType`; a client must treat a value it does not know as
 * invalid, not as success. The proxy checks a modern upstream's JSON answer before it passes it on, so
 * that no client acts on a result it cannot read. A result without `resultType` (an older server) is
 * `complete`.
 *
 * @module
 */

/** The result types 2026-07-28 defines. */
export const RESULT_TYPES: ReadonlySet<string> = new Set(['complete', 'input_required']);

/**
 * The unknown `resultType` of a JSON-RPC answer, as text, or undefined when the answer is fine (or not
 * a result at all). Pure; parses only when the bytes mention `"resultType"`.
 */
export function unknownResultType(body: Buffer): string | undefined {
  if (!body.includes('"resultType"')) return undefined;
  let answer: unknown;
  try {
    answer = JSON.parse(body.toString('utf8'));
  } catch {
    return undefined; // Not the proxy's to judge here: the client sees the server's bytes.
  }
  return unknownResultTypeOf(answer);
}

/** What a client is told when its answer had the unknown `resultType` `type` (as text). */
export function unknownResultTypeMessage(type: string): string {
  return `the MCP server answered with resultType ${type}, which 2026-07-28 does not define`;
}

/** The same for an answer already parsed. Pure. */
export function unknownResultTypeOf(answer: unknown): string | undefined {
  const result = (answer as { result?: unknown } | null)?.result;
  if (typeof result !== 'object' || result === null || !('resultType' in result)) return undefined;
  const type = (result as { resultType: unknown }).resultType;
  return typeof type === 'string' && RESULT_TYPES.has(type) ? undefined : JSON.stringify(type);
}
