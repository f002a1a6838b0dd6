/**
 * The one HTTP/2 Connect transport a proxy uses toward the control plane, for discovery and audit,
 * authenticated with the proxy's mesh token.
 *
 * @module
 */
import type { Interceptor, Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';

export function createMeshTransport(options: { controlPlaneUrl: URL; meshToken: string }): Transport {
  const auth: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${options.meshToken}`);
    return next(req);
  };
  return createConnectTransport({
    baseUrl: options.controlPlaneUrl.toString(),
    httpVersion: '2',
    interceptors: [auth],
    // HTTP/2 pings keep idle streams alive through intermediaries and detect dead peers.
    pingIntervalMs: 15_000,
  });
}
