/**
 * An API key of a non-interactive client. The key itself is shown once at creation; only its
 * SHA-256 is kept (see `api-keys/api-key-format.ts` for why not a slow password hash).
 *
 * @module
 */
import { EntitySchema } from 'typeorm';

export interface ApiKeyRow {
  /** The public id inside the key (`tsk_<id>_<secret>`). */
  id: string;
  /** A label for people ("CI deploy bot"). */
  name: string;
  /** The user the key acts as (an email). */
  userName: string;
  groups: string[];
  /** The servers the key may call. */
  servers: string[];
  secretHash: Buffer;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export const ApiKeyEntity = new EntitySchema<ApiKeyRow>({
  name: 'ApiKey',
  tableName: 'api_keys',
  columns: {
    id: { type: 'text', primary: true },
    name: { type: 'text' },
    userName: { name: 'user_name', type: 'text' },
    groups: { type: 'text', array: true, default: () => "'{}'" },
    servers: { type: 'text', array: true },
    secretHash: { name: 'secret_hash', type: 'bytea' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    expiresAt: { name: 'expires_at', type: 'timestamptz' },
    revokedAt: { name: 'revoked_at', type: 'timestamptz', nullable: true },
    lastUsedAt: { name: 'last_used_at', type: 'timestamptz', nullable: true },
  },
});
