/**
 * Static upstream credentials (API keys, tokens or any headers an MCP server expects), per server
 * or per user, sealed at rest. A user's own credential wins over the server-wide one.
 *
 * @module
 */
import type { DataSource } from 'typeorm';
import type { SecretBox } from '../crypto/secret-box.ts';
import { UpstreamCredentialEntity, type UpstreamCredentialRow } from '../db/entities/upstream-credential.ts';
import { TesseraError } from '../errors.ts';
import type { HeaderInput } from './header-input.ts';

export type Headers = Array<[name: string, value: string]>;

/** The SecretBox context of one row: a sealed value only opens in the row it was written to. */
export const staticContext = (server: string, user: string) => `upstream_credentials/${server}/${user}`;

export interface StaticCredentials {
  set(server: string, input: HeaderInput): Promise<UpstreamCredentialRow>;
  list(server: string): Promise<UpstreamCredentialRow[]>;
  /** @throws TesseraError `TESSERA_NOT_FOUND` */
  remove(server: string, user: string): Promise<void>;
  /** The headers for (server, user): the user's own, else the server-wide ones, else undefined. */
  resolve(server: string, user: string): Promise<Headers | undefined>;
}

export function createStaticCredentials(options: { ds: DataSource; box: SecretBox }): StaticCredentials {
  const repo = options.ds.getRepository(UpstreamCredentialEntity);
  const { box } = options;
  return {
    async set(server, input) {
      const sealedHeaders = await box.seal(JSON.stringify(input.headers), staticContext(server, input.user));
      await repo.upsert(
        { server, userName: input.user, headerNames: input.headers.map(([n]) => n), sealedHeaders },
        ['server', 'userName'],
      );
      return (await repo.findOneBy({ server, userName: input.user }))!;
    },
    list: (server) => repo.find({ where: { server }, order: { userName: 'ASC' } }),
    async remove(server, user) {
      const result = await repo.delete({ server, userName: user });
      if (!result.affected)
        throw new TesseraError(
          'TESSERA_NOT_FOUND',
          `server "${server}" has no credential for "${user || '(server-wide)'}"`,
        );
    },
    async resolve(server, user) {
      const rows = await repo.find({
        where: [
          { server, userName: user },
          { server, userName: '' },
        ],
      });
      const row = rows.find((r) => r.userName === user && user !== '') ?? rows.find((r) => r.userName === '');
      if (!row) return undefined;
      return JSON.parse(
        await box.openText(row.sealedHeaders, staticContext(server, row.userName)),
      ) as Headers;
    },
  };
}
