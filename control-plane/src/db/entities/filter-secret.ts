/**
 * The HMAC secret of one filter webhook of one server, sealed (`crypto/secret-box.ts`). The rest of
 * the filter lives in the server's `policy` column; the secret is kept apart so that nothing in that
 * jsonb is secret and key rotation can walk one bytea column.
 *
 * @module
 */
import { EntitySchema } from 'typeorm';

export interface FilterSecretRow {
  server: string;
  filterName: string;
  /** Context `filter_secrets/<server>/<filter>`. */
  sealedSecret: Buffer;
  createdAt: Date;
}

export const FilterSecretEntity = new EntitySchema<FilterSecretRow>({
  name: 'FilterSecret',
  tableName: 'filter_secrets',
  columns: {
    server: { type: 'text', primary: true },
    filterName: { name: 'filter_name', type: 'text', primary: true },
    sealedSecret: { name: 'sealed_secret', type: 'bytea' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
  },
});
