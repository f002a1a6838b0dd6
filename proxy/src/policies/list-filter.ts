/**
 * Filters the answers of `tools/list`, `prompts/list`, `resources/list` and
 * `resources/templates/list` with the policy's own decision function: an entry stays only when the
 * caller could use it (`tools/call` of the tool, `prompts/get` of the prompt, `resources/read` of the
 * resource). An entry without a name is dropped.
 *
 * @module
 */

const lists: Record<string, { field: string; use: string; key: string }> = {
  'tools/list': { field: 'tools', use: 'tools/call', key: 'name' },
  'prompts/list': { field: 'prompts', use: 'prompts/get', key: 'name' },
  'resources/list': { field: 'resources', use: 'resources/read', key: 'uri' },
  'resources/templates/list': { field: 'resourceTemplates', use: 'resources/read', key: 'uriTemplate' },
};

/** Whether answers to this method are filtered. */
export function isListMethod(method: string): boolean {
  return Object.hasOwn(lists, method);
}

/**
 * Returns the JSON-RPC response with only the visible entries (the same object when nothing changed).
 *
 * @example
 * filterListResponse('tools/list', response, (use, name) => engine.visible(caller, use, name));
 */
export function filterListResponse(
  method: string,
  response: Record<string, unknown>,
  visible: (method: string, target: string) => boolean,
): Record<string, unknown> {
  const spec = lists[method];
  const result = response.result as Record<string, unknown> | undefined;
  if (!spec || !result || typeof result !== 'object') return response;
  const entries = result[spec.field];
  if (!Array.isArray(entries)) return response;
  const kept = entries.filter((e) => {
    const name = (e as Record<string, unknown> | null)?.[spec.key];
    return typeof name === 'string' && visible(spec.use, name);
  });
  if (kept.length === entries.length) return response;
  return { ...response, result: { ...result, [spec.field]: kept } };
}
