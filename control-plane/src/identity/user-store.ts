/**
 * Users and role bindings in Postgres. A user is keyed by where they logged in (`idp`, the
 * identity provider's subject); their groups are refreshed from the IdP at each login. Local accounts
 * are users of the `local` IdP with an argon2id password hash.
 *
 * @module
 */
import type { DataSource } from 'typeorm';
import { hashPassword, verifyPassword } from './password-hash.ts';
import { isRole, type Role, type RoleBinding, rolesOf } from './roles.ts';

export interface User {
  id: string;
  idp: string;
  idpSubject: string;
  email: string;
  name: string;
  groups: string[];
}

/** A user with the roles they hold now. */
export interface UserWithRoles extends User {
  roles: Role[];
}

export interface ExternalLogin {
  idp: string;
  subject: string;
  email: string;
  name: string;
  groups: string[];
}

export interface UserStore {
  get(id: string): Promise<UserWithRoles | undefined>;
  /** Records a login from an external IdP, creating the user the first time. */
  upsertExternal(login: ExternalLogin): Promise<User>;
  /** @throws TypeError when a local account with this email exists. */
  createLocal(email: string, password: string, name?: string): Promise<User>;
  /** The local user whose password this is, else undefined (also for unknown emails, in similar time). */
  verifyLocal(email: string, password: string): Promise<User | undefined>;
  /** Users by email, at most `limit`, after the email `after` (paging). */
  list(page: { limit: number; after?: string }): Promise<UserWithRoles[]>;
  bindings(): Promise<RoleBinding[]>;
  /** @returns false when the binding existed already. */
  bind(binding: RoleBinding): Promise<boolean>;
  /**
   * Removes a binding, unless it is the last owner binding: an installation always keeps an owner.
   * Concurrent removals are serialised on the owner bindings, so two cannot each remove "another" owner.
   */
  unbind(binding: RoleBinding): Promise<'removed' | 'absent' | 'last_owner'>;
}

interface UserRow {
  id: string;
  idp: string;
  idp_subject: string;
  email: string;
  name: string;
  groups: string[];
  password_hash: string | null;
}

const COLUMNS = 'id, idp, idp_subject, email, name, groups, password_hash';

function toUser(r: UserRow): User {
  return { id: r.id, idp: r.idp, idpSubject: r.idp_subject, email: r.email, name: r.name, groups: r.groups };
}

export const LOCAL_IDP = 'local';

export function createUserStore(ds: DataSource): UserStore {
  // Verifying against this when the email is unknown keeps the answer time from telling which emails exist.
  const decoy = hashPassword('decoy password that never matches');
  const store: UserStore = {
    async get(id) {
      if (!/^[0-9a-f-]{36}$/.test(id)) return undefined;
      const rows: UserRow[] = await ds.query(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
      if (!rows[0]) return undefined;
      const user = toUser(rows[0]);
      return { ...user, roles: rolesOf(user.email, user.groups, await store.bindings()) };
    },
    async upsertExternal(l) {
      const rows: UserRow[] = await ds.query(
        `INSERT INTO users (idp, idp_subject, email, name, groups, last_login_at) VALUES ($1, $2, $3, $4, $5, now())
         ON CONFLICT (idp, idp_subject) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name,
           groups = EXCLUDED.groups, last_login_at = now()
         RETURNING ${COLUMNS}`,
        [l.idp, l.subject, l.email, l.name, l.groups],
      );
      return toUser(rows[0]!);
    },
    async createLocal(email, password, name = '') {
      const hash = await hashPassword(password);
      const rows: UserRow[] = await ds.query(
        `INSERT INTO users (idp, idp_subject, email, name, password_hash) VALUES ($1, $2, $2, $3, $4)
         ON CONFLICT (idp, idp_subject) DO NOTHING RETURNING ${COLUMNS}`,
        [LOCAL_IDP, email.toLowerCase(), name, hash],
      );
      if (!rows[0]) throw new TypeError(`a local account for ${email} exists already`);
      return toUser(rows[0]);
    },
    async verifyLocal(email, password) {
      const rows: UserRow[] = await ds.query(
        `SELECT ${COLUMNS} FROM users WHERE idp = $1 AND idp_subject = $2 AND password_hash IS NOT NULL`,
        [LOCAL_IDP, email.toLowerCase()],
      );
      const row = rows[0];
      const ok = await verifyPassword(password, row?.password_hash ?? (await decoy));
      if (!row || !ok) return undefined;
      await ds.query('UPDATE users SET last_login_at = now() WHERE id = $1', [row.id]);
      return toUser(row);
    },
    async list(page) {
      const rows: UserRow[] = await ds.query(
        `SELECT ${COLUMNS} FROM users WHERE lower(email) > $1 ORDER BY lower(email), id LIMIT $2`,
        [(page.after ?? '').toLowerCase(), page.limit],
      );
      const bindings = await store.bindings();
      return rows.map(toUser).map((u) => ({ ...u, roles: rolesOf(u.email, u.groups, bindings) }));
    },
    async bindings() {
      const rows: { principal_kind: 'user' | 'group'; principal: string; role: string }[] = await ds.query(
        'SELECT principal_kind, principal, role FROM role_bindings ORDER BY principal_kind, principal, role',
      );
      return rows.flatMap((r) =>
        isRole(r.role) ? [{ kind: r.principal_kind, principal: r.principal, role: r.role }] : [],
      );
    },
    async bind(b) {
      const rows: unknown[] = await ds.query(
        `INSERT INTO role_bindings (principal_kind, principal, role) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING RETURNING role`,
        [b.kind, b.principal, b.role],
      );
      return rows.length > 0;
    },
    async unbind(b) {
      return ds.transaction(async (tx) => {
        // Locking the owner rows makes a concurrent removal wait and then see this one's result.
        const owners: { principal_kind: string; principal: string }[] = await tx.query(
          "SELECT principal_kind, principal FROM role_bindings WHERE role = 'owner' FOR UPDATE",
        );
        const isThis = (o: { principal_kind: string; principal: string }) =>
          o.principal_kind === b.kind && o.principal === b.principal;
        if (b.role === 'owner' && owners.some(isThis) && owners.every(isThis)) return 'last_owner';
        const result: [unknown[], number] = await tx.query(
          'DELETE FROM role_bindings WHERE principal_kind = $1 AND principal = $2 AND role = $3',
          [b.kind, b.principal, b.role],
        );
        return result[1] > 0 ? 'removed' : 'absent';
      });
    },
  };
  return store;
}
