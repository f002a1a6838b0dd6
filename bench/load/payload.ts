/**
 * The benchmark's MCP exchange: a JSON-RPC `tools/call` with about 1 KB of arguments, answered with
 * about 1 KB of text content. Both are fixed strings, so neither side spends time building them.
 *
 * @module
 */

/** 1,000 printable characters that need no JSON escaping. */
export const TEXT_1K = 'tessera-benchmark-payload-0123456789-abcdefghijklmnopqrstuvwxyz-'
  .repeat(16)
  .slice(0, 1000);

export const TOOL_NAME = 'echo';

const requestHead = '{"jsonrpc":"2.0","id":';
const requestTail = `,"method":"tools/call","params":{"name":"${TOOL_NAME}","arguments":{"text":"${TEXT_1K}"}}}`;

/** The request body for JSON-RPC id `id` (about 1.1 KB). */
export function toolsCallBody(id: number): string {
  return `${requestHead}${id}${requestTail}`;
}

const resultHead = '{"jsonrpc":"2.0","id":';
const resultTail = `,"result":{"content":[{"type":"text","text":"${TEXT_1K}"}],"isError":false}}`;

/** The response body for JSON-RPC id `id`, already serialised (`id` is the request's, as JSON). */
export function toolsCallResult(idJson: string): string {
  return `${resultHead}${idJson}${resultTail}`;
}
