/**
 * The first schema: servers, signing keys and audit events.
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1764000000000 implements MigrationInterface {
  name = 'InitialSchema1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE mcp_servers (
        name          text PRIMARY KEY CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
        kind          text NOT NULL CHECK (kind IN ('stdio', 'http')),
        command       text,
        args          jsonb NOT NULL DEFAULT '[]',
        url           text,
        resource_uri  text NOT NULL UNIQUE,
        local_port    integer CHECK (local_port BETWEEN 1 AND 65535),
        grant_users   jsonb NOT NULL DEFAULT '[]',
        grant_groups  jsonb NOT NULL DEFAULT '[]',
        created_at    timestamptz NOT NULL DEFAULT now(),
        updated_at    timestamptz NOT NULL DEFAULT now(),
        CHECK ((kind = 'stdio' AND command IS NOT NULL) OR (kind = 'http' AND url IS NOT NULL))
      )`);
    await q.query(`
      CREATE TABLE signing_keys (
        kid          text PRIMARY KEY,
        private_jwk  jsonb NOT NULL,
        public_jwk   jsonb NOT NULL,
        active       boolean NOT NULL DEFAULT true,
        created_at   timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE audit_events (
        event_id        uuid PRIMARY KEY,
        time            timestamptz NOT NULL,
        received_at     timestamptz NOT NULL DEFAULT now(),
        batch_id        uuid NOT NULL,
        proxy_id        text NOT NULL,
        server          text NOT NULL,
        user_name       text NOT NULL,
        method          text NOT NULL,
        target          text NOT NULL,
        outcome         text NOT NULL,
        http_status     integer NOT NULL,
        error_code      integer NOT NULL,
        latency_us      bigint NOT NULL,
        request_bytes   bigint NOT NULL,
        response_bytes  bigint NOT NULL,
        session_id      text NOT NULL,
        reason          text NOT NULL,
        request_id      text NOT NULL
      )`);
    await q.query('CREATE INDEX audit_events_server_time ON audit_events (server, time DESC)');
    await q.query('CREATE INDEX audit_events_user_time ON audit_events (user_name, time DESC)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE audit_events');
    await q.query('DROP TABLE signing_keys');
    await q.query('DROP TABLE mcp_servers');
  }
}
