/**
 * MeshDiscoveryService: the control plane's end of each proxy's configuration stream.
 * The first request must carry a Node for a registered server; after that, requests are
 * subscriptions, ACKs and NACKs, handed to the config hub, which pushes responses.
 *
 * @module
 */
import { EventEmitter, on } from 'node:events';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import type {
  DiscoveryRequest,
  DiscoveryResponse,
  MeshDiscoveryService,
} from '@tessera/api/mesh/v1/discovery';
import type { ConfigHub } from '../mesh/config-hub.ts';
import { requireMeshToken, requireServer } from '../mesh/mesh-auth.ts';

export interface DiscoveryServiceOptions {
  hub: ConfigHub;
  meshToken: string;
  serverExists: (name: string) => Promise<boolean>;
  /** False until caches are loaded: streams are refused rather than served an empty config. */
  ready: () => boolean;
  /** Admits a new stream (rate limit); false means RESOURCE_EXHAUSTED. */
  admit?: (signal: AbortSignal) => Promise<boolean>;
  /** Streams end after this long (±10 % jitter) so that proxies rebalance across replicas. */
  maxStreamAgeMs?: number;
}

export function discoveryService(options: DiscoveryServiceOptions): ServiceImpl<typeof MeshDiscoveryService> {
  return {
    async *streamResources(requests: AsyncIterable<DiscoveryRequest>, context) {
      const identity = requireMeshToken(context.requestHeader.get('authorization'), options.meshToken);
      if (!options.ready()) throw new ConnectError('the control plane is starting', Code.Unavailable);
      if (options.admit && !(await options.admit(context.signal))) {
        throw new ConnectError('too many new mesh streams; retry later', Code.ResourceExhausted);
      }

      const out = new EventEmitter();
      const done = new AbortController();
      const abortWith = (err?: unknown) => {
        if (!done.signal.aborted) done.abort(err);
      };
      context.signal.addEventListener('abort', () => abortWith(), { once: true });
      let streamId: string | undefined;
      const age = options.maxStreamAgeMs
        ? setTimeout(
            () =>
              abortWith(new ConnectError('the stream reached its maximum age; reconnect', Code.Unavailable)),
            options.maxStreamAgeMs * (0.9 + Math.random() * 0.2),
          )
        : undefined;

      // Requests are read concurrently with pushes: a push may happen at any time, not only in reply.
      const reader = (async () => {
        for await (const req of requests) {
          if (!streamId) {
            const node = req.node;
            if (!node?.id)
              throw new ConnectError('the first request must carry node.id', Code.InvalidArgument);
            if (!node.mcpServer) throw new ConnectError('node.mcp_server is required', Code.InvalidArgument);
            requireServer(identity, node.mcpServer, 'node.mcp_server');
            if (!(await options.serverExists(node.mcpServer))) {
              throw new ConnectError(`server "${node.mcpServer}" is not registered`, Code.NotFound);
            }
            streamId = options.hub.connect(node, (r) => out.emit('response', r));
          }
          await options.hub.request(streamId, req);
        }
      })().then(
        () => abortWith(),
        (err: unknown) => abortWith(err ?? new Error('request stream failed')),
      );

      try {
        for await (const [response] of on(out, 'response', { signal: done.signal })) {
          yield response as DiscoveryResponse;
        }
      } catch (err) {
        if (!done.signal.aborted) throw err;
      } finally {
        clearTimeout(age);
        if (streamId) options.hub.disconnect(streamId);
        // The reader is not awaited: when the server ends the stream (maximum age) the client's request
        // side is still open, and waiting for it would hold the stream forever. Connect closes it once
        // we return; the reader's outcome already went to abortWith, so it never rejects unhandled.
        void reader;
      }
      const reason: unknown = done.signal.reason;
      if (reason instanceof ConnectError) throw reason;
      if (reason instanceof Error && reason.name !== 'AbortError') throw ConnectError.from(reason);
    },
  };
}
