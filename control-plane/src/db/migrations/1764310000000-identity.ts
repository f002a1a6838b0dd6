/**
 * Identity state: the authorization server's models (oidc-provider payloads, sealed), users from
 * every login source, role bindings, and the control plane's own generated secrets.
 *
 * @module
 */
import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Identity1764310000000 implements MigrationInterface {
  name = 'Identity1764310000000';

  async up(q: QueryRunner): Promise<void> {
    // One row per oidc-provider model instance. The payload is sealed (it holds tokens, codes and
    // client secrets); the indexed columns are the lookups oidc-provider needs and hold no secret.
    await q.query(`CREATE TABLE oauth_payloads (
      model text NOT NULL,
      id text NOT NULL,
      payload text NOT NULL,
      grant_id text,
      uid text,
      user_code text,
      expires_at timestamptz,
      consumed_at timestamptz,
      PRIMARY KEY (model, id)
    )`);
    await q.query(
      'CREATE INDEX oauth_payloads_grant_id ON oauth_payloads (grant_id) WHERE grant_id IS NOT NULL',
    );
    await q.query(
      'CREATE UNIQUE INDEX oauth_payloads_uid ON oauth_payloads (model, uid) WHERE uid IS NOT NULL',
    );
    await q.query(
      'CREATE UNIQUE INDEX oauth_payloads_user_code ON oauth_payloads (model, user_code) WHERE user_code IS NOT NULL',
    );
    await q.query('CREATE INDEX oauth_payloads_expires_at ON oauth_payloads (expires_at)');
    await q.query(`CREATE TABLE users (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      idp text NOT NULL,
      idp_subject text NOT NULL,
      email text NOT NULL,
      name text NOT NULL DEFAULT '',
      groups text[] NOT NULL DEFAULT '{}',
      password_hash text,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_login_at timestamptz,
      UNIQUE (idp, idp_subject)
    )`);
    await q.query('CREATE INDEX users_email ON users (lower(email))');
    await q.query(`CREATE TABLE role_bindings (
      principal_kind text NOT NULL CHECK (principal_kind IN ('user', 'group')),
      principal text NOT NULL,
      role text NOT NULL CHECK (role IN ('owner', 'admin', 'auditor', 'power_user', 'basic')),
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (principal_kind, principal, role)
    )`);
    await q.query(`CREATE TABLE control_plane_secrets (
      name text PRIMARY KEY,
      value text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DROP TABLE control_plane_secrets');
    await q.query('DROP TABLE role_bindings');
    await q.query('DROP TABLE users');
    await q.query('DROP TABLE oauth_payloads');
  }
}
