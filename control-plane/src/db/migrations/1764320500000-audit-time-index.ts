/**
 * The audit read API pages all events newest first by (time, event id); without a filter on
 * server or user, only this index keeps that from scanning the table.
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AuditTimeIndex1764320500000 implements MigrationInterface {
  name = 'AuditTimeIndex1764320500000';

  async up(q: QueryRunner): Promise<void> {
    await q.query('CREATE INDEX audit_events_time ON audit_events (time DESC, event_id DESC)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP INDEX audit_events_time');
  }
}
