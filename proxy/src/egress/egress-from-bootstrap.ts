/**
 * Wires egress mode from the bootstrap: the credential client on the proxy's mesh transport, and the
 * egress upstream around it.
 *
 * @module
 */

import type { Bootstrap } from '../config/bootstrap.ts';
import type { MeshTransport } from '../mesh-api/mesh-transport.ts';
import type { Log } from '../telemetry/log.ts';
import type { Upstream } from '../upstream/upstream.ts';
import { createCredentialClient } from './credential-client.ts';
import { createEgressUpstream } from './egress-upstream.ts';

export function createEgressFromBootstrap(
  bootstrap: Bootstrap,
  transport: MeshTransport,
  log: Log,
  clientInfo: { name: string; version: string },
): Upstream {
  const egress = bootstrap.egress!;
  return createEgressUpstream({
    clientInfo,
    transport: bootstrap.upstreamTransport,
    ...(bootstrap.upstreamTransport === 'sse' && {
      maxSessions: bootstrap.sseMaxSessions,
      idleTimeoutMs: bootstrap.sseIdleTimeoutMs,
    }),
    maxPendingRequests: bootstrap.maxPendingRequests,
    statelessPerPrincipal: bootstrap.statelessChannelsPerPrincipal,
    url: bootstrap.upstreamUrl!,
    allow: egress.allow,
    ca: egress.ca,
    connectTimeoutMs: egress.connectTimeoutMs,
    maxConnections: egress.maxConnections,
    credentials: createCredentialClient({
      transport,
      server: bootstrap.server,
      defaultTtlMs: egress.credentialTtlMs,
      maxEntries: egress.credentialCacheSize,
    }),
    log,
  });
}
