/**
 * Every Prometheus metric of the proxy, declared in one place, in a registry of its own (so that two
 * proxies in one process, or tests, do not share counts). The metrics are the proxy's own small
 * implementation (`./prometheus/`), not prom-client: a series is found by its label values through
 * nested Maps, so recording a request builds no label object and no joined key.
 *
 * | metric                                       | type      | labels                        |
 * | -------------------------------------------- | --------- | ----------------------------- |
 * | `tessera_proxy_requests_total`               | counter   | `method`, `outcome`, `status` |
 * | `tessera_proxy_decisions_total`              | counter   | `decision`, `reason`          |
 * | `tessera_proxy_request_duration_seconds`     | histogram | `method`, `outcome`           |
 * | `tessera_proxy_upstream_errors_total`        | counter   | `kind`                        |
 * | `tessera_proxy_config_info`                  | gauge     | `type`, `version`             |
 * | `tessera_proxy_config_ready`                 | gauge     | (none)                        |
 * | `tessera_proxy_audit_flush_duration_seconds` | histogram | (none)                        |
 *
 * plus the audit pipeline's (`./audit-metrics.ts`, registered by the proxy beside its shipper) and
 * the process and Node.js metrics (`process_*`, `nodejs_*`, named as prom-client's defaults)
 * unless disabled; they are read at scrape time only. `./prometheus/process-metrics.ts` lists them,
 * and the prom-client defaults no longer exported (event-loop lag, GC durations, active handles).
 *
 * Label values come from closed sets only: the JSON-RPC method is mapped onto an allow-list of MCP
 * methods (anything else is `other`), and no label ever carries a user, a tool, a prompt, a resource or a
 * session, so the number of series stays bounded whatever clients send.
 *
 * @module
 */
import type { AuditOutcome } from '../audit/audit-event.ts';
import type { TesseraErrorCode } from '../errors.ts';
import type { ResourceKind } from '../ir/proxy-config.ts';
import { Counter } from './prometheus/counter.ts';
import { Gauge } from './prometheus/gauge.ts';
import { Histogram } from './prometheus/histogram.ts';
import { processMetrics } from './prometheus/process-metrics.ts';
import { MetricsRegistry } from './prometheus/registry.ts';

/** The MCP methods that get a label value of their own; every other method counts as `other`. */
export const KNOWN_METHODS: ReadonlySet<string> = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'logging/setLevel',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/roots/list_changed',
  'server/discover',
  // A client's answer to a server request (sampling, elicitation, roots).
  'response',
  // Not JSON-RPC methods: the proxy's names for a GET (SSE stream) and a DELETE (session end).
  'http/get-stream',
  'http/delete-session',
]);

/** What a decision was based on. */
export type DecisionReason =
  | 'grant'
  | 'no_grant'
  | 'rate_limited'
  | 'filter'
  | 'unauthenticated'
  | 'invalid'
  | 'not_ready';
/** How an upstream failed. */
export type UpstreamErrorKind = 'unavailable' | 'timeout' | 'exited';

/** Seconds, from the proxy's own sub-millisecond overhead to long tool calls. */
export const DURATION_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];

/** Seconds, from a flush to a local SSD to a slow network volume. */
const FLUSH_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
];

/** The proxy's metric handles and the registry that holds them. */
export interface ProxyMetrics {
  registry: MetricsRegistry;
  requests: Counter<readonly ['method', 'outcome', 'status']>;
  decisions: Counter<readonly ['decision', 'reason']>;
  requestDuration: Histogram<readonly ['method', 'outcome']>;
  upstreamErrors: Counter<readonly ['kind']>;
  configInfo: Gauge<readonly ['type', 'version']>;
  configReady: Gauge;
  /** How long each flush of the audit spool to disk took (`disk` audit durability only). */
  auditFlushDuration: Histogram;
}

export interface ProxyMetricsOptions {
  /** Also export the process and Node.js metrics. Default true. */
  processMetrics?: boolean;
}

/**
 * Creates the proxy's metrics in a new registry.
 *
 * @example
 * const metrics = createProxyMetrics();
 * metrics.requests.labels(methodLabel('tools/call'), 'ok', '200').inc();
 * res.setHeader('content-type', metrics.registry.contentType).end(metrics.registry.metrics());
 */
export function createProxyMetrics(options: ProxyMetricsOptions = {}): ProxyMetrics {
  const registry = new MetricsRegistry();
  const metrics: ProxyMetrics = {
    registry,
    requests: registry.register(
      new Counter({
        name: 'tessera_proxy_requests_total',
        help: 'Requests on the MCP endpoint, by JSON-RPC method, audit outcome and HTTP status.',
        labelNames: ['method', 'outcome', 'status'],
      }),
    ),
    decisions: registry.register(
      new Counter({
        name: 'tessera_proxy_decisions_total',
        help: 'Access decisions on the MCP endpoint: allow or deny, and why.',
        labelNames: ['decision', 'reason'],
      }),
    ),
    requestDuration: registry.register(
      new Histogram({
        name: 'tessera_proxy_request_duration_seconds',
        help: 'Time from receiving a request to the end of its response, by JSON-RPC method and outcome.',
        labelNames: ['method', 'outcome'],
        buckets: DURATION_BUCKETS,
      }),
    ),
    upstreamErrors: registry.register(
      new Counter({
        name: 'tessera_proxy_upstream_errors_total',
        help: 'Exchanges the MCP server failed: unreachable or refusing input, too slow, or its process exited.',
        labelNames: ['kind'],
      }),
    ),
    configInfo: registry.register(
      new Gauge({
        name: 'tessera_proxy_config_info',
        help: 'The applied configuration version of each resource type (always 1).',
        labelNames: ['type', 'version'],
      }),
    ),
    configReady: registry.register(
      new Gauge({
        name: 'tessera_proxy_config_ready',
        help: '1 once a complete configuration has been applied (latched), else 0.',
      }),
    ),
    auditFlushDuration: registry.register(
      new Histogram({
        name: 'tessera_proxy_audit_flush_duration_seconds',
        help: 'Flushes of the audit spool to stable storage that answers waited for (disk audit durability).',
        buckets: FLUSH_BUCKETS,
      }),
    ),
  };
  // Zero the closed label sets up front, so that a rate() over them exists before the first event.
  for (const kind of ['unavailable', 'timeout', 'exited'] as const)
    metrics.upstreamErrors.labels(kind).inc(0);
  if (options.processMetrics !== false) registry.register(processMetrics());
  return metrics;
}

/**
 * The `method` label of a JSON-RPC method: itself when it is a known MCP method, `none` when no
 * message was parsed (the request was refused before), else `other`.
 *
 * @example
 * methodLabel('tools/call'); // 'tools/call'
 * methodLabel('x'.repeat(500)); // 'other'
 */
export function methodLabel(method: string): string {
  if (method === '') return 'none';
  return KNOWN_METHODS.has(method) ? method : 'other';
}

/** `STATUS_LABELS[s - 100]` is the label of status `s`, made once rather than per request. */
const STATUS_LABELS: readonly string[] = Array.from({ length: 500 }, (_, i) => String(i + 100));

/** The `status` label: the HTTP status code, or `other` outside 100–599. */
export function statusLabel(status: number): string {
  return Number.isInteger(status) && status >= 100 && status <= 599 ? STATUS_LABELS[status - 100]! : 'other';
}

/**
 * The kind of upstream failure the proxy itself observed, from the catalogue code the upstream
 * reported; undefined when the exchange did not fail in the proxy (the server may still have
 * answered with a JSON-RPC error, which is not an upstream failure).
 *
 * @example
 * upstreamErrorKind('TESSERA_UPSTREAM_TIMEOUT'); // → 'timeout'
 */
export function upstreamErrorKind(failure: TesseraErrorCode | undefined): UpstreamErrorKind | undefined {
  switch (failure) {
    case 'TESSERA_UPSTREAM_UNAVAILABLE':
      return 'unavailable';
    case 'TESSERA_UPSTREAM_TIMEOUT':
      return 'timeout';
    case 'TESSERA_UPSTREAM_EXITED':
      return 'exited';
    default:
      // Refusals of the proxy's own (a full session table, an unknown session) are not upstream failures.
      return undefined;
  }
}

/** What the MCP endpoint observed about one request. */
export interface RequestObservation {
  /** The JSON-RPC method as in the audit record (`''` when no message was parsed). */
  method: string;
  outcome: AuditOutcome;
  httpStatus: number;
  latencyUs: number;
  decision: DecisionReason;
  /** Set when the upstream failed this exchange. */
  upstreamError: UpstreamErrorKind | undefined;
}

/**
 * Records one request: its count, duration, decision and upstream failure.
 *
 * @example
 * observeRequest(metrics, { method: 'ping', outcome: 'ok', httpStatus: 200, latencyUs: 420,
 *   decision: 'grant', upstreamError: undefined });
 */
export function observeRequest(metrics: ProxyMetrics, o: RequestObservation): void {
  const method = methodLabel(o.method);
  metrics.requests.labels(method, o.outcome, statusLabel(o.httpStatus)).inc();
  metrics.requestDuration.labels(method, o.outcome).observe(o.latencyUs / 1e6);
  metrics.decisions.labels(o.decision === 'grant' ? 'allow' : 'deny', o.decision).inc();
  if (o.upstreamError) metrics.upstreamErrors.labels(o.upstreamError).inc();
}

/**
 * Creates the recorder of the configuration gauges: call it with the store's versions after every
 * change. A type whose version changed loses its previous series, so each type has one series.
 *
 * @example
 * const recordConfig = configRecorder(metrics);
 * store.onChange(() => recordConfig(store.versions(), store.ready()));
 */
export function configRecorder(
  metrics: ProxyMetrics,
): (versions: Partial<Record<ResourceKind, { version: string }>>, ready: boolean) => void {
  const shown = new Map<string, string>();
  return (versions, ready) => {
    for (const [type, state] of Object.entries(versions)) {
      if (!state) continue;
      const previous = shown.get(type);
      if (previous === state.version) continue;
      if (previous !== undefined) metrics.configInfo.remove(type, previous);
      metrics.configInfo.labels(type, state.version).set(1);
      shown.set(type, state.version);
    }
    metrics.configReady.labels().set(ready ? 1 : 0);
  };
}
