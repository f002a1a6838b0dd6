/**
 * Mesh status shared across replicas through PostgreSQL. Each replica writes, every interval, its
 * heartbeat and the status rows of the streams that changed since the last write (one statement for
 * all of them); readers see the rows of every replica whose heartbeat is fresh. A replica that dies
 * stops heartbeating, its rows drop out of what readers see, and the next writer deletes them.
 * A failed write (PostgreSQL away) is retried as a full rewrite of this replica's rows.
 *
 * @module
 */
import type { DataSource } from 'typeorm';
import type { ConfigHub, ProxyStatus } from './config-hub.ts';

export interface StatusStoreOptions {
  ds: DataSource;
  hub: ConfigHub;
  intervalMs: number;
  log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

/** What the status API answers. */
export interface MeshStatusView {
  /** The replica that answered. */
  replica: string;
  proxies: ProxyStatus[];
  /** True when only this replica's proxies could be read (PostgreSQL unavailable). */
  partial: boolean;
}

export interface StatusStore {
  /** Writes what changed now (tests; the timer does it every interval). */
  write(): Promise<void>;
  /** Every replica's proxies: this replica's live, the others' from their latest rows. */
  read(): Promise<MeshStatusView>;
  /** Removes this replica's rows (clean shutdown). */
  close(): Promise<void>;
}

/** Rows of replicas silent for this many intervals are not shown and get deleted. */
const EXPIRY_INTERVALS = 5;

interface Row {
  stream_id: string;
  replica_id: string;
  node_id: string;
  server: string;
  role: string;
  connected_at: Date | string;
  types: ProxyStatus['types'];
}

export function startStatusStore(options: StatusStoreOptions): StatusStore {
  const { ds, hub } = options;
  const ttlMs = Math.max(options.intervalMs * EXPIRY_INTERVALS, 3_000);
  let full = true;
  let writing: Promise<void> | undefined;
  let failing = false;

  async function writeOnce(): Promise<void> {
    const wasFull = full;
    full = false;
    const changes = hub.takeStatusChanges();
    const rows = wasFull ? hub.status() : changes.changed;
    try {
      await ds.transaction(async (m) => {
        await m.query(
          `INSERT INTO mesh_replicas (replica_id) VALUES ($1)
           ON CONFLICT (replica_id) DO UPDATE SET heartbeat_at = now()`,
          [hub.id],
        );
        if (wasFull) {
          await m.query('DELETE FROM mesh_proxy_status WHERE replica_id = $1 AND NOT (stream_id = ANY($2))', [
            hub.id,
            rows.map((r) => r.streamId),
          ]);
        } else if (changes.removed.length > 0) {
          await m.query('DELETE FROM mesh_proxy_status WHERE stream_id = ANY($1)', [changes.removed]);
        }
        if (rows.length > 0) {
          await m.query(
            `INSERT INTO mesh_proxy_status (stream_id, replica_id, node_id, server, role, connected_at, types)
             SELECT x.stream_id, $1, x.node_id, x.server, x.role, x.connected_at, x.types
             FROM jsonb_to_recordset($2::jsonb)
               AS x(stream_id text, node_id text, server text, role text, connected_at timestamptz, types jsonb)
             ON CONFLICT (stream_id) DO UPDATE SET types = EXCLUDED.types, updated_at = now()`,
            [
              hub.id,
              JSON.stringify(
                rows.map((r) => ({
                  stream_id: r.streamId,
                  node_id: r.nodeId,
                  server: r.server,
                  role: r.role,
                  connected_at: r.connectedAt,
                  types: r.types,
                })),
              ),
            ],
          );
        }
        // Sweep what dead replicas left behind.
        await m.query(`DELETE FROM mesh_replicas WHERE heartbeat_at < now() - make_interval(secs => $1)`, [
          ttlMs / 1000,
        ]);
        await m.query(
          'DELETE FROM mesh_proxy_status s WHERE NOT EXISTS (SELECT 1 FROM mesh_replicas r WHERE r.replica_id = s.replica_id)',
        );
      });
      if (failing) options.log('info', 'mesh status is written again');
      failing = false;
    } catch (err) {
      full = true;
      if (!failing)
        options.log('warn', 'cannot write mesh status; retrying', { error: (err as Error).message });
      failing = true;
    }
  }

  function write(): Promise<void> {
    // One write at a time; a call during a write waits for it and then writes again.
    const run = (writing ?? Promise.resolve()).then(writeOnce);
    writing = run.finally(() => {
      if (writing === run) writing = undefined;
    });
    return run;
  }

  const timer = setInterval(() => void write(), options.intervalMs);
  timer.unref();

  return {
    write,
    async read() {
      const local = hub.status();
      try {
        const rows: Row[] = await ds.query(
          `SELECT s.stream_id, s.replica_id, s.node_id, s.server, s.role, s.connected_at, s.types
           FROM mesh_proxy_status s JOIN mesh_replicas r USING (replica_id)
           WHERE r.replica_id <> $1 AND r.heartbeat_at > now() - make_interval(secs => $2)`,
          [hub.id, ttlMs / 1000],
        );
        const others: ProxyStatus[] = rows.map((r) => ({
          streamId: r.stream_id,
          nodeId: r.node_id,
          server: r.server,
          role: r.role,
          controlPlaneId: r.replica_id,
          connectedAt: new Date(r.connected_at).toISOString(),
          types: r.types,
        }));
        return { replica: hub.id, proxies: [...local, ...others], partial: false };
      } catch (err) {
        options.log('warn', 'cannot read mesh status of other replicas', { error: (err as Error).message });
        return { replica: hub.id, proxies: local, partial: true };
      }
    },
    async close() {
      clearInterval(timer);
      await writing?.catch(() => {});
      await ds
        .transaction(async (m) => {
          await m.query('DELETE FROM mesh_proxy_status WHERE replica_id = $1', [hub.id]);
          await m.query('DELETE FROM mesh_replicas WHERE replica_id = $1', [hub.id]);
        })
        .catch(() => {});
    },
  };
}
