/**
 * One-time setup links for local accounts created without a password. Only the SHA-256 of each
 * token is stored (the token itself is 256 random bits, so a plain hash cannot be reversed by
 * guessing); at most one link per account, removed with the account.
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class AccountSetupTokens1764350000000 implements MigrationInterface {
  name = 'AccountSetupTokens1764350000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE account_setup_tokens (
        user_id     uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
        token_hash  bytea NOT NULL UNIQUE,
        expires_at  timestamptz NOT NULL,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE account_setup_tokens');
  }
}
