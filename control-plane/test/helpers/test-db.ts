/**
 * A real PostgreSQL for a test file: the same embedded server `tessera start` uses, in a scratch
 * directory on a free port.
 *
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedDb } from '../../src/db/embedded-db.ts';
import { freePort } from './free-port.ts';

export interface TestDb {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

export async function startTestDb(): Promise<TestDb> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tessera-pg-'));
  const db = await startEmbeddedDb({ dataDir, port: await freePort(), log: () => {} });
  return {
    url: db.url,
    dataDir,
    async stop() {
      await db.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
