/**
 * Batches audit records and ships them to the control plane. A batch keeps its id across retries and
 * every event carries its own id, so the control plane stores each event once even when an
 * acknowledgement is lost. While the control plane is unreachable, events wait in a bounded memory
 * buffer; the oldest are dropped (and counted) when it is full.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, type Transport } from '@connectrpc/connect';
import { type AuditEvent, AuditEventSchema, AuditService } from '@tessera/api/mesh/v1/audit';
import type { AuditIR } from '../ir/proxy-config.ts';
import type { Log } from '../telemetry/log.ts';
import { createBackoff } from '../xds/backoff.ts';
import type { AuditRecord } from './audit-event.ts';

export interface AuditShipperOptions {
  transport: Transport;
  proxyId: string;
  server: string;
  /** The current batching settings, read at every flush decision. */
  settings: () => AuditIR;
  log: Log;
  /** Most events held while the control plane is unreachable (default 100 000). */
  maxBuffered?: number;
}

export interface AuditShipper {
  record(event: AuditRecord): void;
  /** Events waiting to be acknowledged. */
  pending(): number;
  /** Events dropped because the buffer was full. */
  dropped(): number;
  /** Ships what is buffered, retrying until `deadlineMs` has passed. */
  close(deadlineMs?: number): Promise<void>;
}

export function createAuditShipper(options: AuditShipperOptions): AuditShipper {
  const client = createClient(AuditService, options.transport);
  const maxBuffered = options.maxBuffered ?? 100_000;
  const backoff = createBackoff({ initialMs: 200, maxMs: 10_000 });
  let buffer: AuditEvent[] = [];
  let inFlight: { batchId: string; events: AuditEvent[] } | undefined;
  let droppedCount = 0;
  let timer: NodeJS.Timeout | undefined;
  let sending: Promise<void> | undefined;
  let closing = false;

  function toWire(r: AuditRecord): AuditEvent {
    return create(AuditEventSchema, {
      eventId: r.eventId,
      time: timestampFromDate(r.time),
      proxyId: options.proxyId,
      server: options.server,
      user: r.user,
      method: r.method,
      target: r.target,
      outcome: r.outcome,
      httpStatus: r.httpStatus,
      errorCode: r.errorCode,
      latencyUs: BigInt(r.latencyUs),
      requestBytes: BigInt(r.requestBytes),
      responseBytes: BigInt(r.responseBytes),
      sessionId: r.sessionId,
      reason: r.reason,
      requestId: r.requestId,
    });
  }

  function schedule(delayMs: number): void {
    if (timer || closing) return;
    timer = setTimeout(() => {
      timer = undefined;
      void flush();
    }, delayMs);
    timer.unref();
  }

  async function sendOnce(): Promise<void> {
    if (!inFlight) {
      if (buffer.length === 0) return;
      const max = options.settings().batchMaxEvents;
      inFlight = { batchId: randomUUID(), events: buffer.slice(0, max) };
      buffer = buffer.slice(max);
    }
    options.log('debug', 'shipping audit batch', { batch: inFlight.batchId, events: inFlight.events.length });
    const ack = await client.ingest(
      { batchId: inFlight.batchId, events: inFlight.events },
      { timeoutMs: 10_000 },
    );
    options.log('debug', 'audit batch acknowledged', { batch: ack.batchId, stored: ack.stored });
    inFlight = undefined;
    backoff.reset();
  }

  /** Ships until the buffer is empty; on failure schedules a retry (or, when closing, rethrows). */
  async function drain(): Promise<void> {
    try {
      while (inFlight || buffer.length > 0) await sendOnce();
    } catch (err) {
      const e = ConnectError.from(err);
      // A batch the control plane rejects as invalid can never succeed: retrying it would block every
      // later event, so it is dropped, loudly.
      if (e.code === Code.InvalidArgument && inFlight) {
        droppedCount += inFlight.events.length;
        options.log('error', 'the control plane rejected an audit batch; dropped it', {
          batch: inFlight.batchId,
          events: inFlight.events.length,
          error: e.rawMessage,
        });
        inFlight = undefined;
        if (buffer.length > 0) schedule(0);
        return;
      }
      options.log('warn', 'audit shipping failed; will retry', {
        error: e.message,
        pending: buffer.length + (inFlight?.events.length ?? 0),
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
      if (buffer.length > 0) schedule(0);
    });
    return sending;
  }

  return {
    record(event) {
      buffer.push(toWire(event));
      if (buffer.length > maxBuffered) {
        const excess = buffer.length - maxBuffered;
        buffer.splice(0, excess);
        droppedCount += excess;
        options.log('error', 'audit buffer full; dropped the oldest events', { dropped: excess });
      }
      const { batchMaxEvents, flushIntervalMs } = options.settings();
      if (buffer.length >= batchMaxEvents) {
        if (timer) clearTimeout(timer);
        timer = undefined;
        void flush();
      } else schedule(flushIntervalMs);
    },
    pending: () => buffer.length + (inFlight?.events.length ?? 0),
    dropped: () => droppedCount,
    async close(deadlineMs = 5_000) {
      closing = true;
      if (timer) clearTimeout(timer);
      const deadline = Date.now() + deadlineMs;
      while ((inFlight || buffer.length > 0) && Date.now() < deadline) {
        try {
          await flush();
        } catch {
          await new Promise((r) => setTimeout(r, Math.min(500, Math.max(0, deadline - Date.now()))));
        }
      }
      if (inFlight || buffer.length > 0) {
        options.log('error', 'audit events not shipped before shutdown', {
          lost: buffer.length + (inFlight?.events.length ?? 0),
        });
      }
    },
  };
}
