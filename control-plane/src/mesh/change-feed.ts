/**
 * Carries configuration changes between control-plane replicas through Postgres LISTEN/NOTIFY, so a
 * change made through any replica reaches proxies connected to every replica. A dedicated connection
 * listens; when it is lost (Postgres restarted, connection killed) it reconnects with backoff and
 * asks for a full resync, since notifications sent meanwhile are gone.
 *
 * @module
 */
import pg from 'pg';

export const CHANNEL = 'tessera_config';

export interface ChangeFeedOptions {
  databaseUrl: string;
  /** A server's configuration changed (here or on another replica). */
  onChange: (server: string) => void;
  /** Notifications may have been missed: recompute everything. */
  onResync: () => void;
  log: (level: 'info' | 'warn', msg: string, fields?: Record<string, unknown>) => void;
}

export interface ChangeFeed {
  /** Tells every replica (this one included) that a server changed. */
  publish(server: string): Promise<void>;
  close(): Promise<void>;
}

export async function startChangeFeed(options: ChangeFeedOptions): Promise<ChangeFeed> {
  const publisher = new pg.Pool({ connectionString: options.databaseUrl, max: 2 });
  publisher.on('error', () => {});
  let listener: pg.Client | undefined;
  let closed = false;
  let delay = 200;
  let timer: NodeJS.Timeout | undefined;

  async function listen(): Promise<void> {
    const client = new pg.Client({ connectionString: options.databaseUrl });
    client.on('notification', (n) => {
      if (n.channel === CHANNEL && n.payload) options.onChange(n.payload);
    });
    client.on('error', (err) => {
      options.log('warn', 'lost the change-feed connection; reconnecting', { error: err.message });
      reconnect(client);
    });
    client.on('end', () => reconnect(client));
    await client.connect();
    await client.query(`LISTEN ${CHANNEL}`);
    listener = client;
  }

  function reconnect(dead: pg.Client): void {
    if (closed || listener !== dead) return;
    listener = undefined;
    dead.end().catch(() => {});
    const attempt = () => {
      if (closed) return;
      listen().then(
        () => {
          delay = 200;
          options.log('info', 'change feed reconnected; resyncing');
          options.onResync();
        },
        () => {
          delay = Math.min(delay * 2, 10_000);
          timer = setTimeout(attempt, delay);
          timer.unref();
        },
      );
    };
    timer = setTimeout(attempt, delay);
    timer.unref();
  }

  await listen();
  return {
    async publish(server) {
      await publisher.query('SELECT pg_notify($1, $2)', [CHANNEL, server]);
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await listener?.end().catch(() => {});
      await publisher.end();
    },
  };
}
