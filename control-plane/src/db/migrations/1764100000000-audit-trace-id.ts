/**
 * Audit events carry the W3C trace id the proxy handled the request under, so an audit row can be
 * joined with traces.
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AuditTraceId1764100000000 implements MigrationInterface {
  name = 'AuditTraceId1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query("ALTER TABLE audit_events ADD COLUMN trace_id text NOT NULL DEFAULT ''");
    await q.query("CREATE INDEX audit_events_trace_id ON audit_events (trace_id) WHERE trace_id <> ''");
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE audit_events DROP COLUMN trace_id');
  }
}
