/**
 * Proof that audit was on: counts the benchmark server's rows (and the batches they came in) in the
 * control plane's `audit_events` table, waiting (bounded) for the proxy's last batches to land.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

export async function waitForAuditRows(
  dataDir: string,
  pgPort: number,
  server: string,
  expected: number,
  timeoutMs: number,
): Promise<{ rows: number; batches: number }> {
  const password = (await readFile(join(dataDir, 'postgres-password'), 'utf8')).trim();
  const db = new pg.Client({
    connectionString: `postgres://tessera:${encodeURIComponent(password)}@127.0.0.1:${pgPort}/tessera`,
  });
  await db.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await db.query<{ n: string; b: string }>(
        'SELECT count(*) AS n, count(DISTINCT batch_id) AS b FROM audit_events WHERE server = $1',
        [server],
      );
      const n = Number(rows[0]!.n);
      if (n >= expected || Date.now() > deadline) return { rows: n, batches: Number(rows[0]!.b) };
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await db.end();
  }
}
