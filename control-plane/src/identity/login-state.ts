/**
 * Pending external logins, keyed by their `state`: stored sealed in the authorization server's
 * table and taken exactly once, so a replayed or forged callback finds nothing.
 *
 * @module
 */
import type { DataSource } from 'typeorm';
import type { PendingLogin } from './external-idp.ts';
import type { SecretSealer } from './secret-sealer.ts';

export interface LoginAttempt extends PendingLogin {
  /** The authorization server interaction this login completes. */
  uid: string;
  idp: 'oidc' | 'github';
}

const MODEL = 'ExternalLogin';
const CONTEXT = `oidc:${MODEL}`;
const TTL_S = 600;

export interface LoginStates {
  put(state: string, attempt: LoginAttempt): Promise<void>;
  /** The attempt for `state`, consumed atomically; undefined when unknown, expired or used. */
  take(state: string): Promise<LoginAttempt | undefined>;
}

export function createLoginStates(ds: DataSource, sealer: SecretSealer): LoginStates {
  return {
    async put(state, attempt) {
      await ds.query(
        `INSERT INTO oauth_payloads (model, id, payload, uid, expires_at)
         VALUES ($1, $2, $3, NULL, now() + make_interval(secs => $4::int))`,
        [MODEL, state, await sealer.seal(JSON.stringify(attempt), CONTEXT), TTL_S],
      );
    },
    async take(state) {
      const rows: { payload: string }[] = await ds.query(
        `UPDATE oauth_payloads SET consumed_at = now()
          WHERE model = $1 AND id = $2 AND consumed_at IS NULL AND expires_at > now() RETURNING payload`,
        [MODEL, state],
      );
      // TypeORM returns [rows, count] for UPDATE … RETURNING.
      const payload = (Array.isArray(rows[0]) ? (rows[0] as { payload: string }[])[0] : rows[0])?.payload;
      return payload === undefined
        ? undefined
        : (JSON.parse(await sealer.open(payload, CONTEXT)) as LoginAttempt);
    },
  };
}
