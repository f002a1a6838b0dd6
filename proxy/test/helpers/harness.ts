/**
 * A proxy listener for socket-level tests, configured directly through its store (no control plane):
 * real ES256 keys, a real upstream, audit records collected in memory.
 *
 * @module
 */
import type { AddressInfo } from 'node:net';
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import {
  type AuditBodiesSchema,
  AuditSettingsSchema,
  type FilterSchema,
  GrantSchema,
  type RateLimitsSchema,
  type RuleSchema,
  ServerPolicySchema,
  TrustBundleSchema,
  UpstreamSchema,
} from '@tessera/api/mesh/v1/config';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { AuditRecord } from '../../src/audit/audit-event.ts';
import { parseAllowList } from '../../src/egress/ssrf-guard.ts';
import { createFilterDispatcher, FILTER_ALLOW } from '../../src/filters/filter-dispatcher.ts';
import type { Http1Server } from '../../src/http1/http1-server.ts';
import {
  translateAudit,
  translatePolicy,
  translateTrust,
  translateUpstream,
} from '../../src/ir/translate.ts';
import { createProxyServer } from '../../src/server/http-server.ts';
import { type ConfigStore, createConfigStore } from '../../src/store/config-store.ts';
import type { Log } from '../../src/telemetry/log.ts';
import type { ProxyMetrics } from '../../src/telemetry/metrics.ts';
import type { Upstream } from '../../src/upstream/upstream.ts';

export const ISSUER = 'https://tessera.test';
export const RESOURCE = 'https://demo.mcp.test/mcp';

export interface Harness {
  url: string;
  server: Http1Server;
  store: ConfigStore;
  audit: AuditRecord[];
  /** Applies the complete default configuration (for a harness started with `configured: false`). */
  configure(): void;
  token(claims?: {
    sub?: string;
    email?: string;
    groups?: string[];
    aud?: string;
    expSeconds?: number;
    scope?: string;
  }): Promise<string>;
  close(): Promise<void>;
}

type TokenClaims = Parameters<Harness['token']>[0];

function sign(
  privateKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'],
  c: NonNullable<TokenClaims>,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { email: c.email ?? 'alice@example.com', groups: c.groups ?? [] };
  if (c.scope !== undefined) claims.scope = c.scope;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
    .setIssuer(ISSUER)
    .setAudience(c.aud ?? RESOURCE)
    .setSubject(c.sub ?? 'user-1')
    .setIssuedAt(now)
    .setExpirationTime(now + (c.expSeconds ?? 300))
    .sign(privateKey);
}

export async function startHarness(options: {
  upstream: Upstream;
  users?: string[];
  groups?: string[];
  maxBodyBytes?: number;
  configured?: boolean;
  /** Scopes every token must carry (Upstream.required_scopes); default none. */
  requiredScopes?: string[];
  /** The proxy's metrics; default: a new registry. */
  metrics?: ProxyMetrics;
  /** The proxy's log; default: discarded. */
  log?: Log;
  /** Called with each audit record at the moment the proxy records it (it is collected either way). */
  onAudit?: (record: AuditRecord) => void;
  /** `disk` audit durability: what every answer's end waits for; default none (`process`). */
  auditSynced?: () => Promise<void>;
  /**
   * TEST ONLY: a request without `Authorization` is given a valid bearer token for alice before the
   * proxy sees it, for clients that cannot send headers (the conformance suite). The proxy itself has
   * no such switch.
   */
  defaultBearer?: boolean;
  /** TESSERA_PROXY_FILTER_ALLOW entries (filter webhooks on 127.0.0.1 need it); default none. */
  filterAllow?: string[];
  /** The listen host the proxy is told it has (on loopback it checks `Host`); default: none, no check. */
  listenHost?: string;
  /** TESSERA_PROXY_ALLOWED_HOSTS entries. */
  allowedHosts?: string[];
  /** TESSERA_PROXY_MAX_STREAMS_PER_PRINCIPAL; default the proxy's. */
  maxStreamsPerPrincipal?: number;
  /** More `ServerPolicy` fields (rules, rate limits, filters, body capture) beside the grant. */
  policy?: {
    rules?: MessageInitShape<typeof RuleSchema>[];
    rateLimits?: MessageInitShape<typeof RateLimitsSchema>;
    filters?: MessageInitShape<typeof FilterSchema>[];
    auditBodies?: MessageInitShape<typeof AuditBodiesSchema>;
  };
}): Promise<Harness> {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
  const store = createConfigStore();
  function configure(): void {
    store.apply(
      {
        kind: 'trust',
        value: translateTrust(
          create(TrustBundleSchema, { issuer: ISSUER, jwksJson: JSON.stringify({ keys: [jwk] }) }),
        ),
      },
      'v1',
      'n1',
    );
    store.apply(
      {
        kind: 'upstream',
        value: translateUpstream(
          create(UpstreamSchema, {
            server: 'demo',
            resourceUri: RESOURCE,
            authorizationServers: [ISSUER],
            requiredScopes: options.requiredScopes ?? [],
          }),
          'demo',
        ),
      },
      'v1',
      'n2',
    );
    const grant = create(GrantSchema, {
      users: options.users ?? ['alice@example.com'],
      groups: options.groups ?? ['eng'],
    });
    store.apply(
      {
        kind: 'policy',
        value: translatePolicy(
          create(ServerPolicySchema, { server: 'demo', grants: [grant], ...options.policy }),
          'demo',
        ),
      },
      'v1',
      'n3',
    );
    store.apply(
      {
        kind: 'audit',
        value: translateAudit(create(AuditSettingsSchema, { batchMaxEvents: 10, flushIntervalMs: 100 })),
      },
      'v1',
      'n4',
    );
  }
  if (options.configured !== false) configure();
  const audit: AuditRecord[] = [];
  const filterDispatcher = createFilterDispatcher({
    allow: parseAllowList(options.filterAllow ?? [], FILTER_ALLOW).allow,
  });
  const server = createProxyServer({
    store,
    upstream: options.upstream,
    maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
    audit: (r) => {
      audit.push(r);
      options.onAudit?.(r);
    },
    log: options.log ?? (() => {}),
    metrics: options.metrics,
    filterDispatcher,
    listenHost: options.listenHost,
    allowedHosts: options.allowedHosts,
    maxStreamsPerPrincipal: options.maxStreamsPerPrincipal,
    auditSynced: options.auditSynced,
  });
  if (options.defaultBearer) {
    const bearer = `Bearer ${await sign(privateKey, { expSeconds: 3600 })}`;
    // Request listeners run in order, so this one fills the header in before the proxy reads it.
    server.prependListener('request', (req) => {
      req.headers.authorization ??= bearer;
    });
  }
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    store,
    audit,
    configure,
    token: (c = {}) => sign(privateKey, c),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await options.upstream.close();
      await filterDispatcher.close();
    },
  };
}
