/**
 * Mesh status shared across replicas: each replica keeps a heartbeat row and one row per proxy
 * stream it serves; readers take the rows of replicas whose heartbeat is recent, so a dead replica's
 * proxies drop out of the status by themselves.
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class MeshStatus1764330000000 implements MigrationInterface {
  name = 'MeshStatus1764330000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE mesh_replicas (
        replica_id    text PRIMARY KEY,
        started_at    timestamptz NOT NULL DEFAULT now(),
        heartbeat_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE mesh_proxy_status (
        stream_id     text PRIMARY KEY,
        replica_id    text NOT NULL,
        node_id       text NOT NULL,
        server        text NOT NULL,
        role          text NOT NULL,
        connected_at  timestamptz NOT NULL,
        types         jsonb NOT NULL DEFAULT '[]',
        updated_at    timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query('CREATE INDEX mesh_proxy_status_replica ON mesh_proxy_status (replica_id)');
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE mesh_proxy_status');
    await q.query('DROP TABLE mesh_replicas');
  }
}
