/**
 * The audit pipeline's metrics, read from the shipper when scraped: how many events wait in the
 * spool for the control plane, how many it acknowledged, how often shipping failed, and how many were
 * lost and why. An operator alerts on the backlog growing (the control plane unreachable) and on any
 * drop, which the durability guarantee does not cover.
 *
 * | metric                                     | type    | labels                             |
 * | ------------------------------------------ | ------- | ---------------------------------- |
 * | `tessera_proxy_audit_pending_events`       | gauge   | (none)                             |
 * | `tessera_proxy_audit_shipped_events_total` | counter | (none)                             |
 * | `tessera_proxy_audit_ship_failures_total`  | counter | (none)                             |
 * | `tessera_proxy_audit_dropped_events_total` | counter | `reason`: `spool_full`, `rejected` |
 *
 * @module
 */
import type { AuditStats } from '../audit/audit-shipper.ts';
import { familyHeader, sampleLine } from './prometheus/exposition.ts';
import type { Collector } from './prometheus/metric.ts';

const PENDING = 'tessera_proxy_audit_pending_events';
const SHIPPED = 'tessera_proxy_audit_shipped_events_total';
const FAILURES = 'tessera_proxy_audit_ship_failures_total';
const DROPPED = 'tessera_proxy_audit_dropped_events_total';

/** A collector over `stats`, which it calls once per scrape. */
export function auditMetrics(stats: () => AuditStats): Collector {
  return {
    names: [PENDING, SHIPPED, FAILURES, DROPPED],
    expose() {
      const s = stats();
      return (
        familyHeader(
          PENDING,
          'Audit events in the spool, not yet acknowledged by the control plane.',
          'gauge',
        ) +
        sampleLine(PENDING, '', s.pending) +
        familyHeader(SHIPPED, 'Audit events the control plane acknowledged.', 'counter') +
        sampleLine(SHIPPED, '', s.shipped) +
        familyHeader(FAILURES, 'Audit shipping attempts that failed and are retried.', 'counter') +
        sampleLine(FAILURES, '', s.failedCalls) +
        familyHeader(
          DROPPED,
          'Audit events lost: the spool was full, or the control plane rejected their batch as invalid.',
          'counter',
        ) +
        sampleLine(DROPPED, 'reason="spool_full"', s.droppedSpoolFull) +
        sampleLine(DROPPED, 'reason="rejected"', s.droppedRejected)
      );
    },
  };
}
