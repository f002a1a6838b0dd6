/**
 * The benchmark's upstream: a minimal, stateless Streamable HTTP MCP server on 127.0.0.1 (node:http).
 * Every JSON-RPC POST to `/mcp` is answered at once with `application/json`: `tools/call` with about
 * 1 KB of text content, `initialize` with its capabilities, any other request with an empty result,
 * notifications and responses with 202. It runs as a child process (`fork`) so that its CPU is not
 * counted as the proxy's; it sends its port over IPC and exits when the driver goes away.
 *
 * @module
 */
import { createServer, type ServerResponse } from 'node:http';
import { toolsCallResult } from './payload.ts';
import { serveAsChild } from './serve-child.ts';

const MAX_BODY = 1024 * 1024;

function reply(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

function answer(text: string): { status: number; body: string } {
  let msg: { id?: unknown; method?: unknown };
  try {
    msg = JSON.parse(text) as { id?: unknown; method?: unknown };
  } catch {
    return { status: 400, body: '{"jsonrpc":"2.0","error":{"code":-32700,"message":"parse error"}}' };
  }
  if (msg.id === undefined || typeof msg.method !== 'string') return { status: 202, body: '' };
  const id = JSON.stringify(msg.id);
  if (msg.method === 'tools/call') return { status: 200, body: toolsCallResult(id) };
  if (msg.method === 'initialize') {
    const result = {
      protocolVersion: '2025-11-25',
      capabilities: { tools: {} },
      serverInfo: { name: 'tessera-bench-fixture', version: '1' },
    };
    return { status: 200, body: `{"jsonrpc":"2.0","id":${id},"result":${JSON.stringify(result)}}` };
  }
  return { status: 200, body: `{"jsonrpc":"2.0","id":${id},"result":{}}` };
}

const server = createServer((req, res) => {
  if (req.url !== '/mcp' || req.method !== 'POST') {
    req.resume();
    reply(res, req.url === '/mcp' ? 405 : 404, '{}');
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size <= MAX_BODY) chunks.push(chunk);
  });
  req.on('end', () => {
    if (size > MAX_BODY) return reply(res, 413, '{}');
    const { status, body } = answer(Buffer.concat(chunks, size).toString('utf8'));
    if (status === 202) {
      res.writeHead(202).end();
      return;
    }
    reply(res, status, body);
  });
});
serveAsChild(server);
