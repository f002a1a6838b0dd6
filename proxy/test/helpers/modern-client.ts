/**
 * A hand-rolled 2026-07-28 (stateless) client for socket tests: the SDK clients in the repository do not
 * speak that revision yet. Every request carries the `_meta` envelope and the matching metadata headers.
 *
 * @module
 */
import { sseEvents } from '../fixtures/stdio-harness.ts';

export const MODERN = '2026-07-28';

export interface ModernAnswer {
  status: number;
  contentType: string;
  /** Every JSON-RPC message received, in order (one for a JSON answer). */
  messages: Record<string, unknown>[];
  /** The last message: the answer to the request. */
  answer: { id?: unknown; result?: Record<string, unknown>; error?: { code: number; message: string } };
}

export interface ModernRequestOptions {
  accept?: string;
  signal?: AbortSignal;
  /** Headers besides the ones the revision requires, e.g. `Mcp-Param-*`. */
  headers?: Record<string, string>;
}

/**
 * POSTs one stateless request to the MCP endpoint at `url`, with the `_meta` envelope (entries in
 * `params._meta` override its defaults) and the matching metadata headers, and returns the response
 * unread: for streams a test reads as they go.
 */
export function modernRequest(
  url: string,
  token: string,
  id: string | number,
  method: string,
  params: Record<string, unknown> = {},
  options: ModernRequestOptions = {},
): Promise<Response> {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': MODERN,
    'io.modelcontextprotocol/clientCapabilities': {},
    'io.modelcontextprotocol/clientInfo': { name: 'modern-test', version: '1' },
    ...(params._meta as Record<string, unknown> | undefined),
  };
  const headers: Record<string, string> = {
    authorization: `Bearer ${token}`,
    'content-type': 'application/json',
    accept: options.accept ?? 'application/json, text/event-stream',
    'mcp-protocol-version': MODERN,
    'mcp-method': method,
  };
  const name = method === 'resources/read' ? params.uri : params.name;
  if (['tools/call', 'prompts/get', 'resources/read'].includes(method) && typeof name === 'string')
    headers['mcp-name'] = name;
  return fetch(url, {
    method: 'POST',
    headers: { ...headers, ...options.headers },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, params: { ...params, _meta: meta } }),
    signal: options.signal,
  });
}

/** POSTs one stateless request to the MCP endpoint at `url` and reads the whole answer. */
export async function modernCall(
  url: string,
  token: string,
  id: string | number,
  method: string,
  params: Record<string, unknown> = {},
  options: ModernRequestOptions = {},
): Promise<ModernAnswer> {
  const res = await modernRequest(url, token, id, method, params, options);
  const contentType = res.headers.get('content-type') ?? '';
  const messages: Record<string, unknown>[] = [];
  if (contentType.startsWith('text/event-stream')) {
    for await (const event of sseEvents(res)) if (event.data) messages.push(JSON.parse(event.data));
  } else {
    const text = await res.text();
    if (text) messages.push(JSON.parse(text));
  }
  return {
    status: res.status,
    contentType,
    messages,
    answer: (messages.at(-1) ?? {}) as ModernAnswer['answer'],
  };
}
