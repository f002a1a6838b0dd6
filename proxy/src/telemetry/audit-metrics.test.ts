import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseExposition } from '../../test/helpers/prometheus.ts';
import type { AuditStats } from '../audit/audit-shipper.ts';
import { auditMetrics } from './audit-metrics.ts';
import { MetricsRegistry } from './prometheus/registry.ts';

test('the audit families are read from the shipper at every scrape', () => {
  const stats: AuditStats = {
    pending: 0,
    shipped: 0,
    failedCalls: 0,
    droppedSpoolFull: 0,
    droppedRejected: 0,
  };
  const registry = new MetricsRegistry();
  registry.register(auditMetrics(() => stats));
  const value = (name: string, labels: Record<string, string> = {}) =>
    parseExposition(registry.metrics()).find(
      (s) => s.name === name && JSON.stringify(s.labels) === JSON.stringify(labels),
    )?.value;
  assert.equal(value('tessera_proxy_audit_pending_events'), 0);
  Object.assign(stats, {
    pending: 40,
    shipped: 1_000_000,
    failedCalls: 3,
    droppedSpoolFull: 7,
    droppedRejected: 2,
  });
  assert.equal(value('tessera_proxy_audit_pending_events'), 40);
  assert.equal(value('tessera_proxy_audit_shipped_events_total'), 1_000_000);
  assert.equal(value('tessera_proxy_audit_ship_failures_total'), 3);
  assert.equal(value('tessera_proxy_audit_dropped_events_total', { reason: 'spool_full' }), 7);
  assert.equal(value('tessera_proxy_audit_dropped_events_total', { reason: 'rejected' }), 2);
});

test('a registry refuses a second writer of the audit families', () => {
  const registry = new MetricsRegistry();
  const none = () => ({ pending: 0, shipped: 0, failedCalls: 0, droppedSpoolFull: 0, droppedRejected: 0 });
  registry.register(auditMetrics(none));
  assert.throws(
    () => registry.register(auditMetrics(none)),
    /tessera_proxy_audit_pending_events is already registered/,
  );
});
