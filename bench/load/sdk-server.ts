/**
 * A real MCP server for the benchmark: built with the official TypeScript SDK (`McpServer` and the
 * Node Streamable HTTP transport), stateless and answering `application/json`, in the way the SDK
 * documents for stateless serving: a fresh server and transport per request. It offers the same `echo`
 * tool as the fixture, and the benchmark's request makes it answer the same 1 KB of text. Where the
 * fixture shows what the proxy costs against an upstream that does almost nothing, this one shows it
 * against an upstream that parses, validates and dispatches like a typical server. Like the fixture it
 * runs as a child process (`fork`), sends its port over IPC and exits when the driver goes away.
 *
 * @module
 */
import { createServer } from 'node:http';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';
import { TOOL_NAME } from './payload.ts';
import { serveAsChild } from './serve-child.ts';

function build(): McpServer {
  const server = new McpServer({ name: 'tessera-bench-sdk-server', version: '1.0.0' });
  server.registerTool(
    TOOL_NAME,
    { description: 'Answers with the text it was given', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text }] }),
  );
  return server;
}

const server = createServer((req, res) => {
  if (req.url !== '/mcp') {
    req.resume();
    res.writeHead(404).end();
    return;
  }
  const mcp = build();
  const transport = new NodeStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  res.on('close', () => {
    void transport.close();
    void mcp.close();
  });
  mcp
    .connect(transport)
    .then(() => transport.handleRequest(req, res))
    .catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
});
serveAsChild(server);
