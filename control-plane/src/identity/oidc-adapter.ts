/**
 * oidc-provider's storage in Postgres: one table keyed by (model, id), payloads sealed through a
 * `SecretSealer`, with the grant/uid/user-code lookups oidc-provider needs as plain indexed columns.
 * Expired rows are invisible at once and deleted by `deleteExpired`.
 *
 * @module
 */
import type { DataSource } from 'typeorm';
import type { SecretSealer } from './secret-sealer.ts';

/** What oidc-provider stores: a JSON object with a few well-known fields. */
export interface AdapterPayload {
  grantId?: string;
  uid?: string;
  userCode?: string;
  consumed?: number;
  [key: string]: unknown;
}

/** The adapter contract oidc-provider calls (its `Adapter` interface). */
export interface OidcAdapter {
  upsert(id: string, payload: AdapterPayload, expiresIn: number | undefined): Promise<void>;
  find(id: string): Promise<AdapterPayload | undefined>;
  findByUid(uid: string): Promise<AdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

interface Row {
  payload: string;
  consumed_at: Date | null;
}

/**
 * Returns the factory oidc-provider calls once per model name.
 *
 * @example
 * new Provider(issuer, { adapter: postgresAdapter(ds, sealer) });
 */
export function postgresAdapter(ds: DataSource, sealer: SecretSealer): (model: string) => OidcAdapter {
  return (model) => {
    const context = `oidc:${model}`;
    async function load(where: string, value: string): Promise<AdapterPayload | undefined> {
      const rows: Row[] = await ds.query(
        `SELECT payload, consumed_at FROM oauth_payloads
          WHERE model = $1 AND ${where} = $2 AND (expires_at IS NULL OR expires_at > now())`,
        [model, value],
      );
      const row = rows[0];
      if (!row) return undefined;
      const payload = JSON.parse(await sealer.open(row.payload, context)) as AdapterPayload;
      if (row.consumed_at) payload.consumed = Math.floor(row.consumed_at.getTime() / 1000);
      return payload;
    }
    return {
      async upsert(id, payload, expiresIn) {
        const sealed = await sealer.seal(JSON.stringify(payload), context);
        await ds.query(
          `INSERT INTO oauth_payloads (model, id, payload, grant_id, uid, user_code, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int IS NULL THEN NULL ELSE now() + make_interval(secs => $7::int) END)
           ON CONFLICT (model, id) DO UPDATE SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id,
             uid = EXCLUDED.uid, user_code = EXCLUDED.user_code, expires_at = EXCLUDED.expires_at`,
          [
            model,
            id,
            sealed,
            payload.grantId ?? null,
            payload.uid ?? null,
            payload.userCode ?? null,
            expiresIn ?? null,
          ],
        );
      },
      find: (id) => load('id', id),
      findByUid: (uid) => load('uid', uid),
      findByUserCode: (userCode) => load('user_code', userCode),
      async consume(id) {
        await ds.query(
          'UPDATE oauth_payloads SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL',
          [model, id],
        );
      },
      async destroy(id) {
        await ds.query('DELETE FROM oauth_payloads WHERE model = $1 AND id = $2', [model, id]);
      },
      async revokeByGrantId(grantId) {
        // Every model issued under the grant goes, not only this adapter's: a revoked grant leaves nothing.
        await ds.query('DELETE FROM oauth_payloads WHERE grant_id = $1', [grantId]);
      },
    };
  };
}

/** Deletes rows whose expiry has passed; returns how many. Run periodically by one replica or all. */
export async function deleteExpired(ds: DataSource): Promise<number> {
  const result: [unknown[], number] = await ds.query(
    'DELETE FROM oauth_payloads WHERE expires_at IS NOT NULL AND expires_at <= now()',
  );
  return result[1];
}
