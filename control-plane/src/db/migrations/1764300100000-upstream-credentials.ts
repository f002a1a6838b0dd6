/**
 * Upstream credentials, sealed: static headers per server or per user, and the signing key's
 * private half moves to a sealed column (rows are sealed at the next start, which needs the key
 * provider; see `keys/signing-keys.ts`).
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class UpstreamCredentials1764300100000 implements MigrationInterface {
  name = 'UpstreamCredentials1764300100000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE upstream_credentials (
        server          text NOT NULL REFERENCES mcp_servers (name) ON DELETE CASCADE,
        user_name       text NOT NULL,
        header_names    text[] NOT NULL,
        sealed_headers  bytea NOT NULL,
        created_at      timestamptz NOT NULL DEFAULT now(),
        updated_at      timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (server, user_name)
      )`);
    await q.query('ALTER TABLE signing_keys ALTER COLUMN private_jwk DROP NOT NULL');
    await q.query('ALTER TABLE signing_keys ADD COLUMN sealed_private_jwk bytea');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('ALTER TABLE signing_keys DROP COLUMN sealed_private_jwk');
    await q.query('DROP TABLE upstream_credentials');
  }
}
