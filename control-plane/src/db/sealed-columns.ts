/**
 * Every column that holds a sealed secret, with how to compute its SecretBox context from the row.
 * Key rotation walks this list; a new sealed column must be added here, or rotation would leave it
 * wrapped by a key that is about to be retired (the dump test would not notice that).
 *
 * @module
 */
import { filterSecretContext } from '../catalog/filter-secrets.ts';
import { oauthContexts } from '../credentials/oauth/oauth-store.ts';
import { staticContext } from '../credentials/static-credentials.ts';
import { signingKeyContext } from '../keys/signing-keys.ts';

export interface SealedColumn {
  table: string;
  /** Primary-key columns, in order. */
  keys: string[];
  column: string;
  /** How the sealed bytes are stored: `bytea` (default) or base64 in a text column (identity's tables). */
  encoding?: 'bytea' | 'base64';
  context(row: Record<string, string>): string;
}

/** The sealed bytes of a stored value, whichever way its column stores them. */
export function sealedBytes(c: SealedColumn, stored: Buffer | string): Buffer {
  return c.encoding === 'base64' ? Buffer.from(stored as string, 'base64') : (stored as Buffer);
}

/** A value sealed afresh, as its column stores it. */
export function storedForm(c: SealedColumn, sealed: Buffer): Buffer | string {
  return c.encoding === 'base64' ? sealed.toString('base64') : sealed;
}

export const sealedColumns: SealedColumn[] = [
  {
    table: 'signing_keys',
    keys: ['kid'],
    column: 'sealed_private_jwk',
    context: (r) => signingKeyContext(r.kid!),
  },
  {
    table: 'upstream_credentials',
    keys: ['server', 'user_name'],
    column: 'sealed_headers',
    context: (r) => staticContext(r.server!, r.user_name!),
  },
  {
    table: 'upstream_oauth_servers',
    keys: ['server'],
    column: 'sealed_static_client_secret',
    context: (r) => oauthContexts.staticSecret(r.server!),
  },
  {
    table: 'upstream_oauth_servers',
    keys: ['server'],
    column: 'sealed_registration',
    context: (r) => oauthContexts.registration(r.server!),
  },
  {
    table: 'upstream_oauth_states',
    keys: ['state_hash'],
    column: 'sealed_request',
    context: (r) => oauthContexts.state(r.state_hash!),
  },
  {
    table: 'upstream_oauth_tokens',
    keys: ['server', 'user_name'],
    column: 'sealed_tokens',
    context: (r) => oauthContexts.tokens(r.server!, r.user_name!),
  },
  {
    // The authorization server's state: tokens, codes, sessions, registered clients, pending logins.
    table: 'oauth_payloads',
    keys: ['model', 'id'],
    column: 'payload',
    encoding: 'base64',
    context: (r) => `oidc:${r.model!}`,
  },
  {
    table: 'control_plane_secrets',
    keys: ['name'],
    column: 'value',
    encoding: 'base64',
    context: (r) => `secret:${r.name!}`,
  },
  {
    table: 'filter_secrets',
    keys: ['server', 'filter_name'],
    column: 'sealed_secret',
    context: (r) => filterSecretContext(r.server!, r.filter_name!),
  },
];
