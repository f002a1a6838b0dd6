/**
 * API keys for non-interactive clients: the key's hash, its owner, its scope (servers), expiry and
 * revocation.
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ApiKeys1764300000000 implements MigrationInterface {
  name = 'ApiKeys1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_keys (
        id            text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{16}$'),
        name          text NOT NULL,
        user_name     text NOT NULL,
        groups        text[] NOT NULL DEFAULT '{}',
        servers       text[] NOT NULL CHECK (cardinality(servers) > 0),
        secret_hash   bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
        created_at    timestamptz NOT NULL DEFAULT now(),
        expires_at    timestamptz NOT NULL,
        revoked_at    timestamptz,
        last_used_at  timestamptz
      )`);
    await q.query('CREATE INDEX api_keys_servers ON api_keys USING gin (servers)');
    await q.query('CREATE INDEX api_keys_user ON api_keys (user_name)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE api_keys');
  }
}
