/**
 * Key rotation: re-wraps the data key of every sealed value under the key provider's current key.
 * Ciphertexts are untouched, so each row is one small update; a row is only replaced if nobody
 * changed it meanwhile, and an interrupted rotation can simply be run again.
 *
 * @module
 */
import type { DataSource } from 'typeorm';
import type { SecretBox } from '../crypto/secret-box.ts';
import { type SealedColumn, sealedBytes, sealedColumns, storedForm } from '../db/sealed-columns.ts';

export interface RotationResult {
  /** Values whose data key was re-wrapped. */
  rewrapped: number;
  /** Values already wrapped by the current key. */
  current: number;
}

async function rotateColumn(ds: DataSource, box: SecretBox, c: SealedColumn, result: RotationResult) {
  const keyList = c.keys.join(', ');
  const rows: Array<Record<string, string | Buffer>> = await ds.query(
    `SELECT ${keyList}, ${c.column} AS sealed FROM ${c.table} WHERE ${c.column} IS NOT NULL`,
  );
  for (const row of rows) {
    const stored = row.sealed as Buffer | string;
    const rewrapped = await box.rewrap(sealedBytes(c, stored), c.context(row as Record<string, string>));
    if (!rewrapped) {
      result.current++;
      continue;
    }
    const next = storedForm(c, rewrapped);
    const where = c.keys.map((k, i) => `${k} = $${i + 3}`).join(' AND ');
    await ds.query(`UPDATE ${c.table} SET ${c.column} = $1 WHERE ${c.column} = $2 AND ${where}`, [
      next,
      stored,
      ...c.keys.map((k) => row[k]),
    ]);
    result.rewrapped++;
  }
}

export async function rotateKeys(ds: DataSource, box: SecretBox): Promise<RotationResult> {
  const result: RotationResult = { rewrapped: 0, current: 0 };
  for (const c of sealedColumns) await rotateColumn(ds, box, c, result);
  return result;
}
