/**
 * Fine-grained policy per server (rules, rate limits, filters, body capture) is stored beside the
 * grants; audit events record the decision, the rule, each filter's answer, an argument digest, the
 * caller's client and groups, optional redacted bodies and the protocol revision.
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ServerPolicyAuditDecisions1764200000000 implements MigrationInterface {
  name = 'ServerPolicyAuditDecisions1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE mcp_servers ADD COLUMN policy jsonb NOT NULL DEFAULT '{}'`);
    await q.query(`ALTER TABLE audit_events
      ADD COLUMN decision text NOT NULL DEFAULT '',
      ADD COLUMN rule_id text NOT NULL DEFAULT '',
      ADD COLUMN filters jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN arguments_digest text NOT NULL DEFAULT '',
      ADD COLUMN client_id text NOT NULL DEFAULT '',
      ADD COLUMN groups jsonb NOT NULL DEFAULT '[]',
      ADD COLUMN request_body text NOT NULL DEFAULT '',
      ADD COLUMN response_body text NOT NULL DEFAULT '',
      ADD COLUMN bodies_truncated boolean NOT NULL DEFAULT false,
      ADD COLUMN era text NOT NULL DEFAULT ''`);
    await q.query(`CREATE INDEX audit_events_rule_id ON audit_events (rule_id) WHERE rule_id <> ''`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE audit_events DROP COLUMN decision, DROP COLUMN rule_id, DROP COLUMN filters,
      DROP COLUMN arguments_digest, DROP COLUMN client_id, DROP COLUMN groups, DROP COLUMN request_body,
      DROP COLUMN response_body, DROP COLUMN bodies_truncated, DROP COLUMN era`);
    await q.query('ALTER TABLE mcp_servers DROP COLUMN policy');
  }
}
