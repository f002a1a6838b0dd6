/**
 * Filter webhook secrets move out of `mcp_servers.policy` into a sealed column. Sealing needs the key
 * provider, which migrations do not have, so the secrets still in the jsonb are sealed and removed
 * from it at the next start (`catalog/filter-secrets.ts#sealLegacyFilterSecrets`), as the signing key
 * was.
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class FilterSecrets1764340000000 implements MigrationInterface {
  name = 'FilterSecrets1764340000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE filter_secrets (
        server         text NOT NULL REFERENCES mcp_servers (name) ON DELETE CASCADE,
        filter_name    text NOT NULL,
        sealed_secret  bytea NOT NULL,
        created_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (server, filter_name)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE filter_secrets');
  }
}
