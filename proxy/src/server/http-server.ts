/**
 * The proxy's inbound HTTP listener: the MCP endpoint, its RFC 9728 metadata, health, readiness and
 * Prometheus metrics (`GET /metrics`). It reads configuration only from the store.
 *
 * @module
 */
import type { AuditRecord } from '../audit/audit-event.ts';
import type { FilterDispatcherRef } from '../filters/lazy-filter-dispatcher.ts';
import { Http1Server } from '../http1/http1-server.ts';
import { type InboundRequest, RequestAbortedError } from '../http1/inbound-request.ts';
import type { OutboundResponse } from '../http1/outbound-response.ts';
import type { ConfigStore } from '../store/config-store.ts';
import type { Log } from '../telemetry/log.ts';
import { configRecorder, createProxyMetrics, type ProxyMetrics } from '../telemetry/metrics.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { createMcpEndpoint } from './mcp-endpoint.ts';
import { protectedResourceMetadata } from './protected-resource.ts';

export interface ProxyServerOptions {
  store: ConfigStore;
  upstream: Upstream;
  maxBodyBytes: number;
  audit: (record: AuditRecord) => void;
  log: Log;
  /** The proxy's metrics, served on `/metrics`; default: a new registry. */
  metrics?: ProxyMetrics;
  /** Browser origins allowed on the MCP endpoint besides loopback and the resource URI's origin. */
  allowedOrigins?: readonly string[];
  /** The address the proxy listens on: on loopback, the MCP endpoint checks `Host` too. */
  listenHost?: string;
  /** On a loopback listener, host names allowed in `Host` besides loopback and the resource URI's host. */
  allowedHosts?: readonly string[];
  /** How many proxies serve this server; rate limits are shared among them (default 1). */
  replicas?: number;
  /** Where filter webhooks are called (`createFilterDispatcher`); default: nothing but public https. */
  filterDispatcher?: FilterDispatcherRef;
  /** Most GET and listen streams one principal may hold open at once (default 16). */
  maxStreamsPerPrincipal?: number;
  /** `disk` audit durability: what every answer's end waits for (`McpEndpointOptions.auditSynced`). */
  auditSynced?: () => Promise<void>;
}

function json(res: OutboundResponse, status: number, value: unknown): void {
  res
    .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    .end(JSON.stringify(value));
}

export function createProxyServer(options: ProxyServerOptions): Http1Server {
  const { store, log } = options;
  const metrics = options.metrics ?? createProxyMetrics();
  const mcp = createMcpEndpoint({ ...options, metrics });
  const recordConfig = configRecorder(metrics);
  recordConfig(store.versions(), store.ready());
  store.onChange((config) => {
    recordConfig(store.versions(), store.ready());
    if (config)
      void mcp.revalidate(config).then((closed) => {
        if (closed > 0) log('info', 'closed streams the new configuration no longer allows', { closed });
      });
  });

  async function route(req: InboundRequest, res: OutboundResponse): Promise<void> {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    const config = store.current();
    if (path === '/healthz') return json(res, 200, { status: 'ok' });
    if (path === '/readyz') return json(res, store.ready() ? 200 : 503, { ready: store.ready() });
    if (path === '/metrics') {
      if (req.method !== 'GET' && req.method !== 'HEAD')
        return json(res, 405, { error: 'invalid_request', error_description: 'use GET' });
      const text = metrics.registry.metrics();
      res
        .writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' })
        .end(req.method === 'HEAD' ? undefined : text);
      return;
    }
    if (path.startsWith('/.well-known/oauth-protected-resource')) {
      if (!config)
        return json(res, 503, {
          error: 'temporarily_unavailable',
          error_description: 'no configuration yet',
        });
      if (req.method !== 'GET')
        return json(res, 405, { error: 'invalid_request', error_description: 'use GET' });
      if (path === config.upstream.metadataPath || path === '/.well-known/oauth-protected-resource') {
        return json(res, 200, protectedResourceMetadata(config.upstream));
      }
      return json(res, 404, { error: 'not_found' });
    }
    if (!config || path === config.upstream.endpointPath) return mcp(req, res, config);
    return json(res, 404, { error: 'not_found', error_description: `no MCP endpoint at ${path}` });
  }

  return new Http1Server(
    {
      requestTimeoutMs: 120_000,
      headersTimeoutMs: 30_000,
      maxHeadBytes: 16 * 1024,
      maxBodyBytes: options.maxBodyBytes,
    },
    (req, res) => {
      route(req, res).catch((err: unknown) => {
        // The client went away mid-body, or the server refused the rest of it (and answered): no one to answer.
        if (err instanceof RequestAbortedError) {
          log('debug', 'request abandoned before its body ended', { path: req.url });
          return;
        }
        log('error', 'request failed in the proxy', { error: (err as Error).stack });
        if (!res.headersSent) json(res, 500, { error: 'internal_error' });
        else res.destroy();
      });
    },
  );
}
