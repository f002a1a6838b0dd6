/**
 * Scope checks for the resource side: which of the scopes a server requires a token lacks.
 *
 * @module
 */

/**
 * The required scopes missing from `granted`, in the order they are required.
 *
 * @example
 * missingScopes(['mcp'], ['mcp', 'mcp:admin']) // ['mcp:admin']
 */
export function missingScopes(granted: readonly string[], required: readonly string[]): string[] {
  const have = new Set(granted);
  return required.filter((s) => !have.has(s));
}
