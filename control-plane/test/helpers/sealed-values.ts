/**
 * Every sealed value in a control plane's database, read by the same column list key rotation walks,
 * so that tests can check what rotation did to each of them.
 *
 * @module
 */
import type { DataSource } from 'typeorm';
import { sealedBytes, sealedColumns } from '../../src/db/sealed-columns.ts';

export async function sealedValues(ds: DataSource): Promise<Buffer[]> {
  const values: Buffer[] = [];
  for (const c of sealedColumns) {
    const rows: Array<{ v: Buffer | string }> = await ds.query(
      `SELECT ${c.column} AS v FROM ${c.table} WHERE ${c.column} IS NOT NULL`,
    );
    for (const { v } of rows) values.push(sealedBytes(c, v));
  }
  return values;
}
