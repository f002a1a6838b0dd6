/**
 * The floor under the proxy's figures: the smallest correct Node forwarder, with no authentication,
 * policy or audit. A `node:http` server reads each request body, POSTs it to the upstream over a
 * keep-alive `http.Agent`, and copies the status, the content type and the body back. Whatever it
 * costs (CPU, latency, saturated throughput) any Node proxy on this machine pays for the two extra
 * loopback hops, so the benchmark runs it next to the proxy and reports both.
 *
 * It is started like the proxy: `TESSERA_PROXY_LISTEN` (host:port) and `TESSERA_PROXY_UPSTREAM_URL`;
 * `GET /readyz` answers 200. Without them it exits with status 2 (that is how the driver warms the
 * compile cache for it).
 *
 * @module
 */
import { Agent, createServer, type IncomingMessage, request, type ServerResponse } from 'node:http';

function fail(message: string): never {
  process.stderr.write(`reference-forwarder: ${message}\n`);
  process.exit(2);
}

function parseListen(raw: string | undefined): { host: string; port: number } {
  const m = raw ? /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(raw) : null;
  const port = Number(m?.[3]);
  if (!m || port > 65_535) fail(`TESSERA_PROXY_LISTEN: "${raw ?? ''}" must be host:port`);
  return { host: (m[1] ?? m[2])!, port };
}

function parseUpstream(raw: string | undefined): URL {
  const url = URL.canParse(raw ?? '') ? new URL(raw!) : undefined;
  if (url?.protocol !== 'http:') fail(`TESSERA_PROXY_UPSTREAM_URL: "${raw ?? ''}" must be an http:// URL`);
  return url;
}

const upstream = parseUpstream(process.env.TESSERA_PROXY_UPSTREAM_URL);
const listen = parseListen(process.env.TESSERA_PROXY_LISTEN);
// The proxy's upstream pool has the same shape: as many sockets as the load generator's connections,
// the most recently used first so that idle ones can time out.
const agent = new Agent({ keepAlive: true, maxSockets: 64, scheduling: 'lifo' });

function readBody(stream: IncomingMessage, done: (body: Buffer) => void): void {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  stream.on('end', () => done(Buffer.concat(chunks)));
}

function badGateway(res: ServerResponse): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = '{"error":"upstream unavailable"}';
  res.writeHead(502, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function forward(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
  const headers: Record<string, string | string[] | number> = { 'content-length': body.length };
  // What a Streamable HTTP server needs to accept the POST.
  for (const name of ['content-type', 'accept', 'mcp-protocol-version'] as const) {
    const value = req.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  const out = request(upstream, { method: 'POST', agent, headers }, (up) => {
    up.on('error', () => badGateway(res));
    readBody(up, (answer) => {
      const head: Record<string, string | number> = { 'content-length': answer.length };
      if (up.headers['content-type']) head['content-type'] = up.headers['content-type'];
      res.writeHead(up.statusCode ?? 502, head);
      res.end(answer);
    });
  });
  out.on('error', () => badGateway(res));
  out.end(body);
}

const server = createServer((req, res) => {
  if (req.url === '/readyz') {
    req.resume();
    res.writeHead(200, { 'content-length': 0 }).end();
    return;
  }
  if (req.method !== 'POST') {
    req.resume();
    res.writeHead(405, { allow: 'POST', 'content-length': 0 }).end();
    return;
  }
  readBody(req, (body) => forward(req, res, body));
});
server.keepAliveTimeout = 65_000;
server.listen(listen.port, listen.host);
