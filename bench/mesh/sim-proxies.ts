/**
 * A worker process holding many simulated proxies, each one a real `StreamResources` stream made with
 * the generated Connect client over HTTP/2: it subscribes to the four types, ACKs every response,
 * ignores heartbeats, and reconnects with the proxy's own backoff (0.5 s → 30 s, jittered) when its
 * stream ends. Streams are multiplexed, `STREAMS_PER_CONNECTION` to an HTTP/2 connection.
 *
 * Driven over IPC by `mesh.bench.ts`:
 *   start  → opens every stream; reports `synced` once each has received all four types
 *   arm    → from now, records when each proxy receives its next ServerPolicy (and ACKs it)
 *   rearm  → from now, records when each proxy has all four types again on a new stream
 *   stop   → ends every stream and exits
 * Times are wall-clock milliseconds with sub-millisecond precision (performance.timeOrigin + now()),
 * comparable across the processes of one machine.
 *
 * @module
 */
import { create } from '@bufbuild/protobuf';
import { createClient, type Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import {
  type DiscoveryRequest,
  DiscoveryRequestSchema,
  MeshDiscoveryService,
} from '@tessera/api/mesh/v1/discovery';
import { createAsyncQueue } from '../../proxy/src/xds/async-queue.ts';
import { createBackoff } from '../../proxy/src/xds/backoff.ts';

const STREAMS_PER_CONNECTION = 250;
const TYPES = ['TrustBundle', 'Upstream', 'ServerPolicy', 'AuditSettings'].map(
  (t) => `type.googleapis.com/tessera.mesh.v1.${t}`,
);
const POLICY = TYPES[2]!;
const HEARTBEAT = 'type.googleapis.com/tessera.mesh.v1.Heartbeat';

export type WorkerCommand =
  | { cmd: 'start'; meshUrl: string; token: string; server: string; ids: string[] }
  | { cmd: 'arm' }
  | { cmd: 'rearm' }
  | { cmd: 'stop' };

export type WorkerEvent =
  | { ev: 'ok' }
  | { ev: 'synced'; count: number }
  | { ev: 'acked'; times: number[] }
  | { ev: 'resynced'; times: number[]; refused: number };

const now = () => performance.timeOrigin + performance.now();
const send = (e: WorkerEvent) => process.send!(e);

let stopped = false;
const aborts: AbortController[] = [];
let armed = false;
const ackTimes = new Map<string, number>();
let rearmed = false;
const resyncTimes = new Map<string, number>();
let refused = 0;
let total = 0;
let synced = 0;

async function runProxy(id: string, server: string, transport: Transport): Promise<void> {
  const client = createClient(MeshDiscoveryService, transport);
  const backoff = createBackoff({ initialMs: 500, maxMs: 30_000 });
  let everSynced = false;
  while (!stopped) {
    const abort = new AbortController();
    aborts.push(abort);
    const requests = createAsyncQueue<DiscoveryRequest>();
    TYPES.forEach((typeUrl, i) => {
      requests.push(
        create(DiscoveryRequestSchema, {
          node: i === 0 ? { id, mcpServer: server, role: 'sidecar', proxyVersion: 'bench' } : undefined,
          typeUrl,
        }),
      );
    });
    const got = new Set<string>();
    try {
      for await (const r of client.streamResources(requests, { signal: abort.signal })) {
        if (r.typeUrl === HEARTBEAT) continue;
        requests.push(
          create(DiscoveryRequestSchema, {
            typeUrl: r.typeUrl,
            versionInfo: r.versionInfo,
            responseNonce: r.nonce,
          }),
        );
        got.add(r.typeUrl);
        backoff.reset();
        if (armed && r.typeUrl === POLICY && !ackTimes.has(id)) {
          ackTimes.set(id, now());
          if (ackTimes.size === total) send({ ev: 'acked', times: [...ackTimes.values()] });
        }
        if (got.size === TYPES.length) {
          if (!everSynced) {
            everSynced = true;
            if (++synced === total) send({ ev: 'synced', count: synced });
          }
          if (rearmed && !resyncTimes.has(id)) {
            resyncTimes.set(id, now());
            if (resyncTimes.size === total)
              send({ ev: 'resynced', times: [...resyncTimes.values()], refused });
          }
        }
      }
    } catch (err) {
      if (/resource_exhausted/i.test(String((err as Error).message))) refused++;
    } finally {
      requests.end();
      aborts.splice(aborts.indexOf(abort), 1);
    }
    if (stopped) return;
    await new Promise((r) => setTimeout(r, backoff.next()));
  }
}

process.on('message', (m: WorkerCommand) => {
  switch (m.cmd) {
    case 'start': {
      total = m.ids.length;
      const auth = `Bearer ${m.token}`;
      const transports = Array.from({ length: Math.ceil(total / STREAMS_PER_CONNECTION) }, () =>
        createConnectTransport({
          baseUrl: m.meshUrl,
          httpVersion: '2',
          interceptors: [
            (next) => (req) => {
              req.header.set('authorization', auth);
              return next(req);
            },
          ],
        }),
      );
      m.ids.forEach((id, i) => void runProxy(id, m.server, transports[i % transports.length]!));
      break;
    }
    case 'arm':
      ackTimes.clear();
      armed = true;
      send({ ev: 'ok' });
      break;
    case 'rearm':
      resyncTimes.clear();
      refused = 0;
      rearmed = true;
      send({ ev: 'ok' });
      break;
    case 'stop':
      stopped = true;
      for (const a of [...aborts]) a.abort();
      setTimeout(() => process.exit(0), 200).unref();
      break;
  }
});
