/**
 * Managing local accounts (users of the `local` IdP): creation with a password or with a one-time
 * setup link, first password through that link, password change, and deletion.
 *
 * A setup token is 256 random bits shown once; only its SHA-256 is stored, with an expiry, and it is
 * consumed in the same transaction that sets the password, so it works once. Deleting an account
 * removes its row (and its pending link); sessions and refresh tokens name the account by its random
 * id, which then resolves to nobody, so they stop working at their next use.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { TesseraError } from '../errors.ts';
import type { NewAccount } from './account-input.ts';
import { hashPassword, verifyPassword } from './password-hash.ts';
import { LOCAL_IDP } from './user-store.ts';

/** How long a setup link works. */
export const SETUP_TTL_SECONDS = 24 * 60 * 60;

export interface CreatedAccount {
  id: string;
  email: string;
  name: string;
  /** Present when the account was created without a password: shown once, never stored. */
  setupToken?: string;
  setupExpiresAt?: Date;
}

export interface LocalAccounts {
  /** @throws TesseraError TESSERA_CONFLICT when a local account with this email exists; nothing is stored then. */
  create(account: NewAccount): Promise<CreatedAccount>;
  /** The email of the account a valid, unexpired setup token belongs to. */
  setupEmail(token: string): Promise<string | undefined>;
  /** Sets the first password and spends the token; false when the token is unknown, used or expired. */
  completeSetup(token: string, password: string): Promise<boolean>;
  /** Replaces the password of a local account when `current` is right. */
  changePassword(userId: string, current: string, next: string): Promise<'changed' | 'wrong' | 'not_local'>;
  /** Deletes a local account, unless its email holds the only owner binding. */
  remove(userId: string): Promise<'removed' | 'absent' | 'not_local' | 'last_owner'>;
}

const hashToken = (token: string) => createHash('sha256').update(token).digest();
const TOKEN = /^[\w-]{43}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function createLocalAccounts(ds: DataSource): LocalAccounts {
  return {
    async create(a) {
      // Hashed before the transaction: argon2 takes a while, and a row lock should not.
      const hash = a.password === undefined ? null : await hashPassword(a.password);
      const token = a.password === undefined ? randomBytes(32).toString('base64url') : undefined;
      return ds.transaction(async (tx) => {
        const rows: { id: string; created_at: Date }[] = await tx.query(
          `INSERT INTO users (idp, idp_subject, email, name, password_hash) VALUES ($1, $2, $2, $3, $4)
           ON CONFLICT (idp, idp_subject) DO NOTHING RETURNING id`,
          [LOCAL_IDP, a.email, a.name, hash],
        );
        if (!rows[0])
          throw new TesseraError('TESSERA_CONFLICT', `a local account for ${a.email} exists already`);
        const created: CreatedAccount = { id: rows[0].id, email: a.email, name: a.name };
        if (token) {
          const expiry: { expires_at: Date }[] = await tx.query(
            `INSERT INTO account_setup_tokens (user_id, token_hash, expires_at)
             VALUES ($1, $2, now() + make_interval(secs => $3)) RETURNING expires_at`,
            [created.id, hashToken(token), SETUP_TTL_SECONDS],
          );
          created.setupToken = token;
          created.setupExpiresAt = expiry[0]!.expires_at;
        }
        return created;
      });
    },

    async setupEmail(token) {
      if (!TOKEN.test(token)) return undefined;
      const rows: { email: string }[] = await ds.query(
        `SELECT u.email FROM account_setup_tokens t JOIN users u ON u.id = t.user_id
          WHERE t.token_hash = $1 AND t.expires_at > now()`,
        [hashToken(token)],
      );
      return rows[0]?.email;
    },

    async completeSetup(token, password) {
      if (!TOKEN.test(token)) return false;
      const hash = await hashPassword(password);
      return ds.transaction(async (tx) => {
        // Deleting is what makes the token single-use: of two concurrent uses, one gets no row.
        // TypeORM answers a DELETE or UPDATE with [rows, affected].
        const [spent]: [{ user_id: string }[], number] = await tx.query(
          'DELETE FROM account_setup_tokens WHERE token_hash = $1 AND expires_at > now() RETURNING user_id',
          [hashToken(token)],
        );
        if (!spent[0]) return false;
        const [, updated]: [unknown[], number] = await tx.query(
          'UPDATE users SET password_hash = $2 WHERE id = $1 AND idp = $3',
          [spent[0].user_id, hash, LOCAL_IDP],
        );
        return updated === 1;
      });
    },

    async changePassword(userId, current, next) {
      if (!UUID.test(userId)) return 'not_local';
      const rows: { password_hash: string | null }[] = await ds.query(
        'SELECT password_hash FROM users WHERE id = $1 AND idp = $2',
        [userId, LOCAL_IDP],
      );
      const stored = rows[0]?.password_hash;
      if (!stored) return 'not_local';
      if (!(await verifyPassword(current, stored))) return 'wrong';
      // Compare-and-set: a concurrent change with the same old password cannot both win.
      const result: [unknown[], number] = await ds.query(
        'UPDATE users SET password_hash = $2 WHERE id = $1 AND password_hash = $3',
        [userId, await hashPassword(next), stored],
      );
      return result[1] > 0 ? 'changed' : 'wrong';
    },

    async remove(userId) {
      if (!UUID.test(userId)) return 'absent';
      return ds.transaction(async (tx) => {
        // Locked like an unbind, so a removal and an unbind cannot together leave no owner.
        const owners: { principal_kind: string; principal: string }[] = await tx.query(
          "SELECT principal_kind, principal FROM role_bindings WHERE role = 'owner' FOR UPDATE",
        );
        const rows: { idp: string; email: string }[] = await tx.query(
          'SELECT idp, email FROM users WHERE id = $1 FOR UPDATE',
          [userId],
        );
        const user = rows[0];
        if (!user) return 'absent';
        if (user.idp !== LOCAL_IDP) return 'not_local';
        const email = user.email.toLowerCase();
        const isThis = (o: { principal_kind: string; principal: string }) =>
          o.principal_kind === 'user' && o.principal.toLowerCase() === email;
        if (owners.some(isThis) && owners.every(isThis)) return 'last_owner';
        await tx.query('DELETE FROM users WHERE id = $1', [userId]);
        return 'removed';
      });
    },
  };
}
