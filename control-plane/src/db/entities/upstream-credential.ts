/**
 * A static upstream credential: the HTTP headers a proxy sends to its MCP server, for one user or
 * (user "") for everyone. The headers are sealed (`crypto/secret-box.ts`); only their names are
 * stored in clear, so that lists can show what is configured.
 *
 * @module
 */
import { EntitySchema } from 'typeorm';

export interface UpstreamCredentialRow {
  server: string;
  /** The end user's email, or "" for the server-wide credential. */
  userName: string;
  headerNames: string[];
  /** Sealed JSON `[[name, value], …]`, context `upstream_credentials/<server>/<user>`. */
  sealedHeaders: Buffer;
  createdAt: Date;
  updatedAt: Date;
}

export const UpstreamCredentialEntity = new EntitySchema<UpstreamCredentialRow>({
  name: 'UpstreamCredential',
  tableName: 'upstream_credentials',
  columns: {
    server: { type: 'text', primary: true },
    userName: { name: 'user_name', type: 'text', primary: true },
    headerNames: { name: 'header_names', type: 'text', array: true },
    sealedHeaders: { name: 'sealed_headers', type: 'bytea' },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
  },
});
