/**
 * The OAuth client flow for MCP servers with their own authorization server: per-server settings
 * (static client secret and dynamic registration sealed), pending authorization requests (single
 * use, PKCE verifier sealed) and per-user tokens (sealed).
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class UpstreamOauth1764320000000 implements MigrationInterface {
  name = 'UpstreamOauth1764320000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE upstream_oauth_servers (
        server                       text PRIMARY KEY REFERENCES mcp_servers (name) ON DELETE CASCADE,
        mcp_url                      text NOT NULL,
        scopes                       text[] NOT NULL DEFAULT '{}',
        static_client_id             text,
        sealed_static_client_secret  bytea,
        registration_issuer          text,
        sealed_registration          bytea,
        created_at                   timestamptz NOT NULL DEFAULT now(),
        updated_at                   timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE upstream_oauth_states (
        state_hash       text PRIMARY KEY,
        server           text NOT NULL REFERENCES mcp_servers (name) ON DELETE CASCADE,
        user_name        text NOT NULL,
        sealed_request   bytea NOT NULL,
        expires_at       timestamptz NOT NULL
      )`);
    await q.query(`
      CREATE TABLE upstream_oauth_tokens (
        server         text NOT NULL REFERENCES mcp_servers (name) ON DELETE CASCADE,
        user_name      text NOT NULL,
        issuer         text NOT NULL,
        sealed_tokens  bytea NOT NULL,
        expires_at     timestamptz,
        updated_at     timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (server, user_name)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE upstream_oauth_tokens');
    await q.query('DROP TABLE upstream_oauth_states');
    await q.query('DROP TABLE upstream_oauth_servers');
  }
}
