/**
 * The proxy's end of the mesh discovery stream. Subscribes to every resource type, validates each
 * response whole, applies it to the store and ACKs, or NACKs and keeps the previous configuration.
 * Reconnects with backoff, telling the control plane which versions it already holds; each new
 * attempt goes to the next control-plane address. A stream that delivers nothing, not even a
 * heartbeat, for `idleTimeoutMs` is abandoned as dead.
 *
 * @module
 */
import type { DiscoveryResponse } from '@tessera/api/mesh/v1/discovery';
import type { ResourceKind } from '../ir/proxy-config.ts';
import { kindOfTypeUrl, translateResponse, typeUrls } from '../ir/translate.ts';
import { MeshCallError, numericCode } from '../mesh-api/connect-error.ts';
import type { MeshTransport } from '../mesh-api/mesh-transport.ts';
import {
  type DiscoveryRequestInit,
  decodeDiscoveryResponse,
  encodeDiscoveryRequest,
  typeUrls as meshTypeUrls,
} from '../mesh-api/protobuf/mesh-messages.ts';
import type { ConfigStore } from '../store/config-store.ts';
import type { Log } from '../telemetry/log.ts';
import { createAsyncQueue } from './async-queue.ts';
import { createBackoff } from './backoff.ts';

export interface DiscoveryClientOptions {
  transport: Pick<MeshTransport, 'stream'>;
  node: { id: string; server: string; role: string; version: string };
  store: ConfigStore;
  log: Log;
  /** Called with every response that was validated and applied, and its wire bytes (to persist it). */
  onApplied?: (response: DiscoveryResponse, bytes: Uint8Array) => void;
  /** Called when a stream ends, before the next attempt: move to another control-plane address. */
  failover?: () => void;
  /** A stream silent this long is abandoned (the control plane sends heartbeats on quiet streams). */
  idleTimeoutMs?: number;
}

const STREAM_RESOURCES = '/tessera.mesh.v1.MeshDiscoveryService/StreamResources';

export interface DiscoveryClient {
  /** Connects and keeps reconnecting until closed. */
  start(): void;
  /** True while a stream is open. */
  connected(): boolean;
  close(): void;
}

/** The order in which types are requested; the control plane answers in the same order. */
const order: ResourceKind[] = ['trust', 'upstream', 'policy', 'audit'];

export function createDiscoveryClient(options: DiscoveryClientOptions): DiscoveryClient {
  const { store, log } = options;
  const backoff = createBackoff({ initialMs: 500, maxMs: 30_000 });
  const node: DiscoveryRequestInit['node'] = {
    id: options.node.id,
    mcpServer: options.node.server,
    role: options.node.role,
    proxyVersion: options.node.version,
  };
  let abort: AbortController | undefined;
  let closed = false;
  let isConnected = false;
  let timer: NodeJS.Timeout | undefined;

  async function runStream(signal: AbortSignal): Promise<void> {
    const requests = createAsyncQueue<Uint8Array>();
    const send = (request: DiscoveryRequestInit) => requests.push(encodeDiscoveryRequest(request));
    signal.addEventListener('abort', () => requests.end(), { once: true });
    const held = store.versions();
    order.forEach((kind, i) => {
      send({
        node: i === 0 ? node : undefined,
        typeUrl: typeUrls[kind],
        versionInfo: held[kind]?.version ?? '',
      });
    });
    // The watchdog aborts a stream on which nothing arrives; the caller's signal still ends it too.
    const stream = new AbortController();
    signal.addEventListener('abort', () => stream.abort(signal.reason), { once: true });
    let watchdog: NodeJS.Timeout | undefined;
    const idleMs = options.idleTimeoutMs;
    const feed = () => {
      if (!idleMs) return;
      clearTimeout(watchdog);
      watchdog = setTimeout(
        () =>
          stream.abort(
            new MeshCallError(
              'deadline_exceeded',
              `no message for ${idleMs} ms; the stream is presumed dead`,
            ),
          ),
        idleMs,
      );
      watchdog.unref();
    };
    feed();
    try {
      // A stream the watchdog aborts fails with the watchdog's reason: the client throws it as it is.
      for await (const bytes of options.transport.stream(STREAM_RESOURCES, requests, {
        signal: stream.signal,
      })) {
        feed();
        const response = decodeDiscoveryResponse(bytes);
        if (response.typeUrl === meshTypeUrls.Heartbeat) continue; // proof of life, never ACKed
        if (!isConnected) {
          isConnected = true;
          backoff.reset();
          log('info', 'connected to the control plane', { controlPlane: response.controlPlaneId });
        }
        const previous = store.versions();
        try {
          const part = translateResponse(response, options.node.server);
          store.apply(part, response.versionInfo, response.nonce);
          options.onApplied?.(response, bytes);
          send({
            typeUrl: response.typeUrl,
            versionInfo: response.versionInfo,
            responseNonce: response.nonce,
          });
          log('info', 'applied configuration', { type: part.kind, version: response.versionInfo });
        } catch (err) {
          const kind = kindOfTypeUrl(response.typeUrl);
          const message = (err as Error).message;
          log('warn', 'rejected configuration (NACK)', {
            typeUrl: response.typeUrl,
            version: response.versionInfo,
            error: message,
          });
          send({
            typeUrl: response.typeUrl,
            versionInfo: kind ? (previous[kind]?.version ?? '') : '',
            responseNonce: response.nonce,
            errorDetail: { code: numericCode('invalid_argument'), message },
          });
        }
      }
    } finally {
      clearTimeout(watchdog);
      requests.end();
    }
  }

  function connect(): void {
    if (closed) return;
    abort = new AbortController();
    const signal = abort.signal;
    runStream(signal)
      .catch((err: unknown) => {
        if (closed) return;
        const e = MeshCallError.from(err);
        log('warn', 'mesh stream ended', { code: e.code, error: e.rawMessage });
      })
      .finally(() => {
        isConnected = false;
        if (closed) return;
        options.failover?.();
        const delay = backoff.next();
        timer = setTimeout(connect, delay);
        timer.unref();
      });
  }

  return {
    start: connect,
    connected: () => isConnected,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      abort?.abort();
    },
  };
}
