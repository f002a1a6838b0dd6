/**
 * Ships audit records to the control plane in batches. Every record is first appended to the on-disk
 * spool, and leaves it only when the control plane has acknowledged its batch. A batch keeps its id
 * across retries and every event carries its own id, so the control plane stores each event once even
 * when an acknowledgement is lost or the proxy restarts and resends from the spool.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { AuditIR } from '../ir/proxy-config.ts';
import { MeshCallError } from '../mesh-api/connect-error.ts';
import type { MeshTransport } from '../mesh-api/mesh-transport.ts';
import { decodeIngestResponse, encodeIngestRequestEncoded } from '../mesh-api/protobuf/mesh-messages.ts';
import type { Log } from '../telemetry/log.ts';
import { createBackoff } from '../xds/backoff.ts';
import type { AuditRecord } from './audit-event.ts';
import { encodeAuditEvent } from './audit-event-encoder.ts';
import { type AuditSpool, SPOOL_RECORD_HEADROOM, type SpoolBatch } from './audit-spool.ts';
import { releaseBuffer } from './release-buffer.ts';

export interface AuditShipperOptions {
  transport: Pick<MeshTransport, 'unary'>;
  proxyId: string;
  server: string;
  /** The current batching settings, read at every flush decision. */
  settings: () => AuditIR;
  log: Log;
  /** Where records wait until acknowledged. */
  spool: AuditSpool;
}

/** Counts since the shipper started, for the proxy's metrics. */
export interface AuditStats {
  /** Events spooled and not yet acknowledged. */
  pending: number;
  /** Events the control plane acknowledged. */
  shipped: number;
  /** Shipping attempts that failed and were left to retry (the control plane unreachable, say). */
  failedCalls: number;
  /** Events dropped because the spool was full. */
  droppedSpoolFull: number;
  /** Events dropped because the control plane rejected their batch as invalid. */
  droppedRejected: number;
}

export interface AuditShipper {
  record(event: AuditRecord): void;
  /** Events waiting, shipped and dropped so far, and failed calls (`AuditStats`). */
  stats(): AuditStats;
  /** Ships what is spooled, retrying until `deadlineMs` has passed; the rest stays in the spool. */
  close(deadlineMs?: number): Promise<void>;
}

const INGEST = '/tessera.mesh.v1.AuditService/Ingest';

/**
 * The most event bytes one batch carries, whatever `batchMaxEvents` allows: the control plane refuses
 * a mesh message over 32 MiB (`control-plane/src/mesh/mesh-gate.ts`), and events with captured bodies
 * can reach well over 100 KB each.
 */
export const AUDIT_BATCH_MAX_BYTES = 4 * 1024 * 1024;

export function createAuditShipper(options: AuditShipperOptions): AuditShipper {
  const { spool } = options;
  const origin = { proxyId: options.proxyId, server: options.server };
  const backoff = createBackoff({ initialMs: 200, maxMs: 10_000 });
  let inFlight: (SpoolBatch & { batchId: string }) | undefined;
  let rejectedCount = 0;
  let shippedCount = 0;
  let failedCalls = 0;
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> | undefined;
  let closing = false;
  /** The flush interval has passed (or the shipper is closing): a partial batch may go. */
  let due = false;

  function schedule(delayMs: number): void {
    if (timer || closing) return;
    timer = setTimeout(() => {
      timer = undefined;
      due = true;
      void flush();
    }, delayMs);
    timer.unref();
  }

  /** Sends one batch; false when the spool had nothing to read. */
  async function sendOnce(): Promise<boolean> {
    if (!inFlight) {
      const batch = spool.read(options.settings().batchMaxEvents, AUDIT_BATCH_MAX_BYTES);
      if (batch.events.length === 0) return false;
      inFlight = { ...batch, batchId: randomUUID() };
    }
    options.log('debug', 'shipping audit batch', { batch: inFlight.batchId, events: inFlight.events.length });
    // AuditService.Ingest with the spooled events as they are: IngestRequestEncoded has the wire format
    // of IngestRequest, so no event is decoded and encoded again on its way to the control plane.
    const request = encodeIngestRequestEncoded({ batchId: inFlight.batchId, events: inFlight.events });
    const ack = decodeIngestResponse(await options.transport.unary(INGEST, request, { timeoutMs: 10_000 }));
    options.log('debug', 'audit batch acknowledged', { batch: ack.batchId, stored: ack.stored });
    spool.ack(inFlight.end, inFlight.events.length);
    shippedCount += inFlight.events.length;
    // Acknowledged, so the server has read the whole request: both copies of the batch can go now.
    inFlight.release();
    releaseBuffer(request);
    inFlight = undefined;
    backoff.reset();
    return true;
  }

  /** Ships until the spool is empty; on failure schedules a retry (or, when closing, rethrows). */
  async function drain(): Promise<void> {
    try {
      for (;;) {
        const full = spool.pending() >= options.settings().batchMaxEvents;
        if (!inFlight && !full && !(due && spool.pending() > 0)) break;
        const partial = !inFlight && !full;
        if (!(await sendOnce())) break;
        if (partial) due = false;
      }
    } catch (err) {
      const e = MeshCallError.from(err);
      // A batch the control plane rejects as invalid can never succeed: retrying it would block every
      // later event, so it is dropped, loudly.
      if (e.code === 'invalid_argument' && inFlight) {
        rejectedCount += inFlight.events.length;
        spool.ack(inFlight.end, inFlight.events.length);
        options.log('error', 'the control plane rejected an audit batch; dropped it', {
          batch: inFlight.batchId,
          events: inFlight.events.length,
          error: e.rawMessage,
        });
        inFlight.release();
        inFlight = undefined;
        if (spool.pending() > 0) schedule(0);
        return;
      }
      failedCalls++;
      options.log('warn', 'audit shipping failed; will retry', {
        error: e.message,
        pending: spool.pending(),
      });
      if (closing) throw err;
      schedule(backoff.next());
    }
  }

  function flush(): Promise<void> {
    // The promise is stored before it can settle (finally callbacks always run later), so a drain
    // that finds nothing to do can never leave a stale promise behind.
    sending ??= drain().finally(() => {
      sending = undefined;
      // Events recorded while the last request was settling still need a ride.
      if (spool.pending() > 0 && !inFlight) schedule(options.settings().flushIntervalMs);
    });
    return sending;
  }

  // Records left by a previous run (a crash, a SIGKILL, an unreachable control plane) go first.
  if (spool.pending() > 0) {
    options.log('info', 'shipping audit events left in the spool', { pending: spool.pending() });
    schedule(0);
  }

  return {
    record(event) {
      spool.append(encodeAuditEvent(event, origin, SPOOL_RECORD_HEADROOM));
      const { batchMaxEvents, flushIntervalMs } = options.settings();
      if (spool.pending() >= batchMaxEvents) {
        if (timer) clearTimeout(timer);
        timer = undefined;
        void flush();
      } else schedule(flushIntervalMs);
    },
    stats: () => ({
      pending: spool.pending(),
      shipped: shippedCount,
      failedCalls,
      droppedSpoolFull: spool.dropped(),
      droppedRejected: rejectedCount,
    }),
    async close(deadlineMs = 5_000) {
      closing = true;
      due = true;
      if (timer) clearTimeout(timer);
      const deadline = Date.now() + deadlineMs;
      while (spool.pending() > 0 && Date.now() < deadline) {
        try {
          await flush();
        } catch {
          await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
        }
      }
      if (spool.pending() > 0) {
        options.log('warn', 'audit events stay in the spool until the next start', {
          pending: spool.pending(),
        });
      }
      // Closed segments flushed and acknowledged ones deleted before the process goes.
      await spool.settled();
      spool.close();
    },
  };
}
