/**
 * A real sidecar proxy in the test process, configured over the mesh stream of a test replica,
 * in front of a minimal HTTP MCP server that answers every request with an empty result.
 *
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createProxy, readBootstrap } from '@tessera/proxy';
import { proxyMeshToken } from '../../src/mesh/mesh-auth.ts';

export interface LocalProxy {
  mcpUrl: string;
  /** Upstream request headers, newest last. */
  upstreamHeaders: Array<Record<string, string | string[] | undefined>>;
  /** POSTs an `initialize` with `authorization` and returns the status. */
  call(authorization?: string): Promise<number>;
  /** Polls `call` until it answers `status` (a config push is asynchronous). */
  waitForStatus(authorization: string, status: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalProxy(options: {
  server: string;
  port: number;
  meshUrl: string;
  meshSecret: string;
}): Promise<LocalProxy> {
  const upstreamHeaders: LocalProxy['upstreamHeaders'] = [];
  const upstream: Server = createServer((req, res) => {
    upstreamHeaders.push(req.headers);
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const id = (JSON.parse(body) as { id?: unknown }).id ?? null;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result: { tools: [] } }));
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upstreamPort = (upstream.address() as { port: number }).port;
  const dir = await mkdtemp(join(tmpdir(), 'tessera-proxy-'));
  const bootstrap = readBootstrap(
    {
      TESSERA_PROXY_MODE: 'sidecar',
      TESSERA_PROXY_SERVER: options.server,
      TESSERA_PROXY_NODE_ID: `test-${options.server}`,
      TESSERA_PROXY_LISTEN: `127.0.0.1:${options.port}`,
      TESSERA_PROXY_UPSTREAM_URL: `http://127.0.0.1:${upstreamPort}/mcp`,
      TESSERA_CONTROL_PLANE_URL: options.meshUrl,
      TESSERA_MESH_TOKEN: proxyMeshToken(options.meshSecret, options.server),
      TESSERA_PROXY_SNAPSHOT_DIR: join(dir, 'snapshot'),
      TESSERA_PROXY_AUDIT_SPOOL_DIR: join(dir, 'spool'),
      TESSERA_LOG_LEVEL: 'error',
    },
    () => '',
  );
  const proxy = await createProxy(bootstrap);
  await proxy.listen();
  const mcpUrl = `http://127.0.0.1:${options.port}/mcp`;
  for (let i = 0; ; i++) {
    const ready = await fetch(`http://127.0.0.1:${options.port}/readyz`).catch(() => undefined);
    if (ready?.status === 200) break;
    if (i > 300) throw new Error('the proxy never became ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  async function call(authorization?: string): Promise<number> {
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    };
    if (authorization) headers.authorization = authorization;
    const res = await fetch(mcpUrl, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'test', version: '1' },
        },
      }),
    });
    const text = await res.text();
    if (process.env.DEBUG_PROXY) console.error(res.status, text);
    return res.status;
  }
  return {
    mcpUrl,
    upstreamHeaders,
    call,
    async waitForStatus(authorization, status, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      let last = 0;
      while (Date.now() < deadline) {
        last = await call(authorization);
        if (last === status) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`expected ${status} from the proxy, still ${last}`);
    },
    async close() {
      await proxy.close();
      await new Promise((r) => upstream.close(r));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
