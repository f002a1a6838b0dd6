/**
 * MeshDiscoveryService: the control plane's end of each proxy's configuration stream.
 * The first request must carry a Node for a registered server; after that, requests are
 * subscriptions, ACKs and NACKs, handed to the config hub, which pushes responses.
 *
 * @module
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import {
  type DiscoveryRequest,
  type DiscoveryResponse,
  DiscoveryResponseSchema,
  HeartbeatSchema,
  type MeshDiscoveryService,
} from '@tessera/api/mesh/v1/discovery';
import type { ConfigHub } from '../mesh/config-hub.ts';
import { type MeshAuthenticator, requireNode } from '../mesh/mesh-auth.ts';
import { typeUrlOf } from '../mesh/snapshot.ts';

export const HEARTBEAT_TYPE_URL = typeUrlOf(HeartbeatSchema);

export interface DiscoveryServiceOptions {
  hub: ConfigHub;
  /** Who is calling: a bootstrap token, or a Kubernetes service-account token checked by TokenReview. */
  authenticate: MeshAuthenticator;
  serverExists: (name: string) => Promise<boolean>;
  /** False until caches are loaded: streams are refused rather than served an empty config. */
  ready: () => boolean;
  /** Admits a new stream (rate limit); false means RESOURCE_EXHAUSTED. */
  admit?: (signal: AbortSignal) => Promise<boolean>;
  /** Streams end after this long (±10 % jitter) so that proxies rebalance across replicas. */
  maxStreamAgeMs?: number;
  /** A heartbeat response goes out after this long without any response (±10 % jitter). */
  heartbeatMs?: number;
}

interface Outgoing {
  response: DiscoveryResponse;
  written: () => void;
}

export function discoveryService(options: DiscoveryServiceOptions): ServiceImpl<typeof MeshDiscoveryService> {
  return {
    async *streamResources(requests: AsyncIterable<DiscoveryRequest>, context) {
      const identity = await options.authenticate(context.requestHeader.get('authorization'));
      if (!options.ready()) throw new ConnectError('the control plane is starting', Code.Unavailable);
      if (options.admit && !(await options.admit(context.signal))) {
        throw new ConnectError('too many new mesh streams; retry later', Code.ResourceExhausted);
      }

      // Responses wait here until the stream has written the previous one; the hub's push slot is
      // released when its response is written, which is what bounds push concurrency.
      const outgoing: Outgoing[] = [];
      let wake: (() => void) | undefined;
      const enqueue = (response: DiscoveryResponse): Promise<void> =>
        new Promise((written) => {
          outgoing.push({ response, written });
          wake?.();
        });
      const done = new AbortController();
      const abortWith = (err?: unknown) => {
        if (done.signal.aborted) return;
        done.abort(err);
        wake?.();
      };
      context.signal.addEventListener('abort', () => abortWith(), { once: true });
      let streamId: string | undefined;
      const jitter = () => 0.9 + Math.random() * 0.2;
      const age = options.maxStreamAgeMs
        ? setTimeout(
            () =>
              abortWith(new ConnectError('the stream reached its maximum age; reconnect', Code.Unavailable)),
            options.maxStreamAgeMs * jitter(),
          )
        : undefined;
      let lastSent = performance.now();
      const heartbeatMs = options.heartbeatMs;
      const heartbeat = heartbeatMs
        ? setInterval(() => {
            if (performance.now() - lastSent < heartbeatMs * 0.9 || outgoing.length > 0) return;
            void enqueue(
              create(DiscoveryResponseSchema, {
                typeUrl: HEARTBEAT_TYPE_URL,
                controlPlaneId: options.hub.id,
              }),
            );
          }, heartbeatMs * jitter())
        : undefined;
      heartbeat?.unref();

      // Requests are read concurrently with pushes: a push may happen at any time, not only in reply.
      const reader = (async () => {
        for await (const req of requests) {
          if (!streamId) {
            const node = req.node;
            if (!node?.id)
              throw new ConnectError('the first request must carry node.id', Code.InvalidArgument);
            if (!node.mcpServer) throw new ConnectError('node.mcp_server is required', Code.InvalidArgument);
            requireNode(identity, node);
            if (!(await options.serverExists(node.mcpServer))) {
              throw new ConnectError(`server "${node.mcpServer}" is not registered`, Code.NotFound);
            }
            if (done.signal.aborted) return;
            streamId = options.hub.connect(node, enqueue);
          }
          await options.hub.request(streamId, req);
        }
      })().then(
        () => abortWith(),
        (err: unknown) => abortWith(err ?? new Error('request stream failed')),
      );

      try {
        while (!done.signal.aborted) {
          const next = outgoing.shift();
          if (!next) {
            await new Promise<void>((r) => (wake = r));
            wake = undefined;
            continue;
          }
          yield next.response;
          lastSent = performance.now();
          next.written();
        }
      } finally {
        clearTimeout(age);
        clearInterval(heartbeat);
        if (streamId) options.hub.disconnect(streamId);
        // Pushes waiting on this stream are released; the stream is gone.
        for (const o of outgoing.splice(0)) o.written();
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
