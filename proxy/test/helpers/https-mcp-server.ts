/**
 * A remote MCP server for egress tests: the MCP SDK's Streamable HTTP server (stateless, one `echo`
 * tool) behind `node:https`, recording every request's headers. A few paths answer with redirects so
 * that tests can send the proxy where a remote server might: `/to?url=<target>` (307 to the target)
 * and `/hop/<n>` (308 to `/hop/<n+1>`, forever).
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Server as McpServer } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

export interface HttpsMcpServer {
  port: number;
  /** Every request received: path, headers and, for /mcp, the parsed body. */
  seen: Array<{ path: string; headers: IncomingHttpHeaders; body?: unknown }>;
  close(): Promise<void>;
}

function mcpServer(): McpServer {
  const server = new McpServer({ name: 'remote-fixture', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, async () => ({
    tools: [
      {
        name: 'echo',
        description: 'Echoes its message',
        inputSchema: { type: 'object', properties: { message: { type: 'string' } }, required: ['message'] },
      },
    ],
  }));
  server.setRequestHandler(CallToolRequestSchema, async (req) => ({
    content: [{ type: 'text', text: `remote: ${String(req.params.arguments?.message)}` }],
  }));
  return server;
}

export async function startHttpsMcpServer(tls: { key: string; cert: string }): Promise<HttpsMcpServer> {
  const seen: HttpsMcpServer['seen'] = [];
  const server: Server = createServer({ key: tls.key, cert: tls.cert }, async (req, res) => {
    const url = new URL(req.url ?? '/', 'https://fixture');
    seen.push({ path: url.pathname + url.search, headers: req.headers });
    if (url.pathname === '/to') {
      res.writeHead(307, { location: url.searchParams.get('url') ?? '/' }).end();
      return;
    }
    const hop = /^\/hop\/(\d+)$/.exec(url.pathname);
    if (hop) {
      res.writeHead(308, { location: `/hop/${Number(hop[1]) + 1}` }).end();
      return;
    }
    if (url.pathname !== '/mcp') {
      res.writeHead(404).end();
      return;
    }
    // Stateless: a server and transport per request, as the SDK's stateless example does.
    const mcp = mcpServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    // Read here, so that tests can see what the server received; the transport takes it parsed.
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    let parsed: unknown;
    try {
      parsed = raw === '' ? undefined : JSON.parse(raw);
    } catch {
      parsed = undefined;
    }
    seen.at(-1)!.body = parsed;
    await transport.handleRequest(req, res, parsed);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
