/**
 * API keys in PostgreSQL: create (the key is returned once, only its hash is stored), list, revoke,
 * and the keys a server's proxies must accept. Every change names the servers whose proxies need a
 * new trust bundle.
 *
 * @module
 */
import type { DataSource } from 'typeorm';
import { ApiKeyEntity, type ApiKeyRow } from '../db/entities/api-key.ts';
import { TesseraError } from '../errors.ts';
import { API_KEY_ID, newApiKey } from './api-key-format.ts';
import type { ApiKeyInput } from './api-key-input.ts';

export interface ApiKeyStore {
  /** @returns the row and the key, which is never available again. */
  create(input: ApiKeyInput): Promise<{ row: ApiKeyRow; key: string }>;
  list(filter?: { user?: string }): Promise<ApiKeyRow[]>;
  /** Idempotent. @throws TesseraError `TESSERA_NOT_FOUND` */
  revoke(id: string): Promise<ApiKeyRow>;
  /** Keys scoped to `server`, neither revoked nor expired. */
  activeFor(server: string): Promise<ApiKeyRow[]>;
}

export function createApiKeyStore(options: {
  ds: DataSource;
  /** Checked for every server a new key names. */
  serverExists: (name: string) => Promise<boolean>;
  /** Called with each server whose proxies must receive the new set of keys. */
  changed: (server: string) => void;
}): ApiKeyStore {
  const repo = options.ds.getRepository(ApiKeyEntity);
  return {
    async create(input) {
      for (const s of input.servers) {
        if (!(await options.serverExists(s)))
          throw new TesseraError('TESSERA_NOT_FOUND', `server "${s}" does not exist`);
      }
      const { id, key, secretHash } = newApiKey();
      await repo.insert({
        id,
        name: input.name,
        userName: input.user,
        groups: input.groups,
        servers: input.servers,
        secretHash,
        expiresAt: new Date(Date.now() + input.expiresInDays * 86_400_000),
      });
      for (const s of input.servers) options.changed(s);
      return { row: (await repo.findOneBy({ id }))!, key };
    },
    list(filter = {}) {
      return repo.find({
        where: filter.user ? { userName: filter.user } : {},
        order: { createdAt: 'DESC' },
      });
    },
    async revoke(id) {
      const row = API_KEY_ID.test(id) ? await repo.findOneBy({ id }) : null;
      if (!row) throw new TesseraError('TESSERA_NOT_FOUND', `API key "${id}" does not exist`);
      if (row.revokedAt) return row;
      await repo.update({ id }, { revokedAt: new Date() });
      for (const s of row.servers) options.changed(s);
      return (await repo.findOneBy({ id }))!;
    },
    activeFor(server) {
      return repo
        .createQueryBuilder('k')
        .where(':server = ANY(k.servers)', { server })
        .andWhere('k.revoked_at IS NULL')
        .andWhere('k.expires_at > now()')
        .orderBy('k.id')
        .getMany();
    },
  };
}
