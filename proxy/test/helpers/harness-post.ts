/**
 * A JSON-RPC POST to a test harness's MCP endpoint, the way a Streamable HTTP client sends one.
 *
 * @module
 */
import type { Harness } from './harness.ts';

/** The `Accept` a Streamable HTTP client sends with every POST. */
export const ACCEPT_BOTH = 'application/json, text/event-stream';

/**
 * POSTs `body` to `h`'s `/mcp` with a bearer token (by default a fresh valid one; `null`: none),
 * reads the answer to its end and returns the response.
 */
export async function post(
  h: Harness,
  body: string,
  options: { token?: string | null; headers?: Record<string, string> } = {},
): Promise<Response> {
  const token = options.token === undefined ? await h.token() : options.token;
  const res = await fetch(`${h.url}/mcp`, {
    method: 'POST',
    headers: {
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
      'content-type': 'application/json',
      accept: ACCEPT_BOTH,
      ...options.headers,
    },
    body,
  });
  await res.arrayBuffer();
  return res;
}

/** A JSON-RPC request body. */
export const rpc = (method: string, params: Record<string, unknown> = {}, id = 1) =>
  JSON.stringify({ jsonrpc: '2.0', id, method, params });
