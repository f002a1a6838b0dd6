/**
 * Servers that speak only the deprecated HTTP+SSE transport: `kind = 'sse'`, whose `url` is the SSE
 * URL. The kind checks of the first schema were unnamed, so they are found by what they say.
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

const dropKindChecks = `
  DO $$
  DECLARE c record;
  BEGIN
    FOR c IN
      SELECT conname FROM pg_constraint
      WHERE conrelid = 'mcp_servers'::regclass AND contype = 'c'
        AND pg_get_constraintdef(oid) LIKE '%kind%'
    LOOP
      EXECUTE format('ALTER TABLE mcp_servers DROP CONSTRAINT %I', c.conname);
    END LOOP;
  END $$`;

export class SseServers1764360000000 implements MigrationInterface {
  name = 'SseServers1764360000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(dropKindChecks);
    await q.query(`
      ALTER TABLE mcp_servers
        ADD CONSTRAINT mcp_servers_kind CHECK (kind IN ('stdio', 'http', 'sse')),
        ADD CONSTRAINT mcp_servers_upstream CHECK (
          (kind = 'stdio' AND command IS NOT NULL) OR (kind IN ('http', 'sse') AND url IS NOT NULL))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query("DELETE FROM mcp_servers WHERE kind = 'sse'");
    await q.query(dropKindChecks);
    await q.query(`
      ALTER TABLE mcp_servers
        ADD CONSTRAINT mcp_servers_kind CHECK (kind IN ('stdio', 'http')),
        ADD CONSTRAINT mcp_servers_upstream CHECK (
          (kind = 'stdio' AND command IS NOT NULL) OR (kind = 'http' AND url IS NOT NULL))`);
  }
}
