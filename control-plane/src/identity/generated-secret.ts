/**
 * Secrets the control plane generates for itself and shares between replicas through Postgres
 * (e.g. the key that signs the authorization server's cookies), sealed at rest.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { SecretSealer } from './secret-sealer.ts';

/** The secret called `name`, created on first use; concurrent first uses agree on one value. */
export async function generatedSecret(ds: DataSource, sealer: SecretSealer, name: string): Promise<string> {
  const context = `secret:${name}`;
  const candidate = await sealer.seal(randomBytes(32).toString('base64url'), context);
  await ds.query(
    'INSERT INTO control_plane_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
    [name, candidate],
  );
  const rows: { value: string }[] = await ds.query(
    'SELECT value FROM control_plane_secrets WHERE name = $1',
    [name],
  );
  return sealer.open(rows[0]!.value, context);
}
