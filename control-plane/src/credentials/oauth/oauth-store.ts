/**
 * Where the OAuth client flow keeps its state, in PostgreSQL: per-server settings, pending
 * authorization requests (single use) and per-user tokens. Every secret (client secrets, dynamic
 * registrations, PKCE verifiers, access and refresh tokens) is sealed with the SecretBox, bound to
 * its row; `db/sealed-columns.ts` lists these columns for key rotation.
 *
 * @module
 */
import type { DataSource, EntityManager } from 'typeorm';
import type { SecretBox } from '../../crypto/secret-box.ts';

/** How the control plane authenticates at a token endpoint. */
export interface ClientCredentials {
  clientId: string;
  clientSecret?: string;
  authMethod: 'client_secret_basic' | 'client_secret_post' | 'none';
  /** Where the client id came from, for the admin view. */
  source: 'static' | 'metadata-document' | 'dynamic';
}

export interface OAuthServerConfig {
  server: string;
  mcpUrl: string;
  scopes: string[];
  staticClientId?: string;
  hasStaticClientSecret: boolean;
  registeredAt?: string;
  updatedAt: Date;
}

/** One user's tokens for one server, with what a refresh needs. */
export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  expiresAt?: Date;
  issuer: string;
  tokenEndpoint: string;
  resource: string;
  client: ClientCredentials;
}

/** An authorization request sent to the user's browser, waiting for its callback. */
export interface PendingRequest {
  server: string;
  user: string;
  verifier: string;
  issuer: string;
  issParameterSupported: boolean;
  tokenEndpoint: string;
  resource: string;
  redirectUri: string;
  client: ClientCredentials;
}

export const oauthContexts = {
  staticSecret: (server: string) => `upstream_oauth_servers/${server}/static_client_secret`,
  registration: (server: string) => `upstream_oauth_servers/${server}/registration`,
  state: (stateHash: string) => `upstream_oauth_states/${stateHash}`,
  tokens: (server: string, user: string) => `upstream_oauth_tokens/${server}/${user}`,
};

type Row = Record<string, unknown>;

export function createOAuthStore(options: { ds: DataSource; box: SecretBox }) {
  const { ds, box } = options;
  const open = async <T>(sealed: Buffer, context: string) =>
    JSON.parse(await box.openText(sealed, context)) as T;
  const seal = (value: unknown, context: string) => box.seal(JSON.stringify(value), context);

  const toConfig = (r: Row): OAuthServerConfig => ({
    server: r.server as string,
    mcpUrl: r.mcp_url as string,
    scopes: r.scopes as string[],
    staticClientId: (r.static_client_id as string | null) ?? undefined,
    hasStaticClientSecret: r.sealed_static_client_secret !== null,
    registeredAt: (r.registration_issuer as string | null) ?? undefined,
    updatedAt: r.updated_at as Date,
  });

  async function readTokens(m: EntityManager | DataSource, server: string, user: string, lock: boolean) {
    const [row] = await m.query(
      `SELECT sealed_tokens FROM upstream_oauth_tokens WHERE server = $1 AND user_name = $2${lock ? ' FOR UPDATE' : ''}`,
      [server, user],
    );
    if (!row) return undefined;
    const t = await open<TokenSet & { expiresAt?: string }>(
      row.sealed_tokens,
      oauthContexts.tokens(server, user),
    );
    return { ...t, expiresAt: t.expiresAt ? new Date(t.expiresAt) : undefined } as TokenSet;
  }

  async function writeTokens(m: EntityManager | DataSource, server: string, user: string, t: TokenSet) {
    await m.query(
      `INSERT INTO upstream_oauth_tokens (server, user_name, issuer, sealed_tokens, expires_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (server, user_name) DO UPDATE
       SET issuer = $3, sealed_tokens = $4, expires_at = $5, updated_at = now()`,
      [server, user, t.issuer, await seal(t, oauthContexts.tokens(server, user)), t.expiresAt ?? null],
    );
  }

  return {
    async configure(
      server: string,
      input: { mcpUrl: string; scopes: string[]; clientId?: string; clientSecret?: string },
    ): Promise<OAuthServerConfig> {
      const sealedSecret = input.clientSecret
        ? await box.seal(input.clientSecret, oauthContexts.staticSecret(server))
        : null;
      // A new configuration may point at another server: an earlier registration is dropped.
      await ds.query(
        `INSERT INTO upstream_oauth_servers (server, mcp_url, scopes, static_client_id, sealed_static_client_secret)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (server) DO UPDATE
         SET mcp_url = $2, scopes = $3, static_client_id = $4, sealed_static_client_secret = $5,
             registration_issuer = NULL, sealed_registration = NULL, updated_at = now()`,
        [server, input.mcpUrl, input.scopes, input.clientId ?? null, sealedSecret],
      );
      return (await this.config(server))!;
    },

    async config(server: string): Promise<OAuthServerConfig | undefined> {
      const [row] = await ds.query('SELECT * FROM upstream_oauth_servers WHERE server = $1', [server]);
      return row ? toConfig(row) : undefined;
    },

    /** Removes the settings and every user's tokens. @returns false when there were none. */
    async remove(server: string): Promise<boolean> {
      await ds.query('DELETE FROM upstream_oauth_tokens WHERE server = $1', [server]);
      const [, affected] = await ds.query('DELETE FROM upstream_oauth_servers WHERE server = $1', [server]);
      return affected > 0;
    },

    async staticClient(server: string): Promise<ClientCredentials | undefined> {
      const [row] = await ds.query(
        'SELECT static_client_id, sealed_static_client_secret FROM upstream_oauth_servers WHERE server = $1',
        [server],
      );
      if (!row?.static_client_id) return undefined;
      const clientSecret = row.sealed_static_client_secret
        ? await box.openText(row.sealed_static_client_secret, oauthContexts.staticSecret(server))
        : undefined;
      return {
        clientId: row.static_client_id,
        clientSecret,
        authMethod: clientSecret ? 'client_secret_basic' : 'none',
        source: 'static',
      };
    },

    /** The dynamic registration made at `issuer` for this server, if any. */
    async registration(server: string, issuer: string): Promise<ClientCredentials | undefined> {
      const [row] = await ds.query(
        'SELECT sealed_registration FROM upstream_oauth_servers WHERE server = $1 AND registration_issuer = $2',
        [server, issuer],
      );
      if (!row?.sealed_registration) return undefined;
      return open<ClientCredentials>(row.sealed_registration, oauthContexts.registration(server));
    },

    async saveRegistration(server: string, issuer: string, client: ClientCredentials): Promise<void> {
      await ds.query(
        `UPDATE upstream_oauth_servers SET registration_issuer = $2, sealed_registration = $3, updated_at = now()
         WHERE server = $1`,
        [server, issuer, await seal(client, oauthContexts.registration(server))],
      );
    },

    async saveState(stateHash: string, request: PendingRequest, expiresAt: Date): Promise<void> {
      await ds.query('DELETE FROM upstream_oauth_states WHERE expires_at < now()');
      await ds.query(
        `INSERT INTO upstream_oauth_states (state_hash, server, user_name, sealed_request, expires_at)
         VALUES ($1, $2, $3, $4, $5)`,
        [
          stateHash,
          request.server,
          request.user,
          await seal(request, oauthContexts.state(stateHash)),
          expiresAt,
        ],
      );
    },

    /** The pending request of a state, removed in the same statement: a state works once. */
    async takeState(stateHash: string): Promise<PendingRequest | undefined> {
      const [rows] = await ds.query(
        'DELETE FROM upstream_oauth_states WHERE state_hash = $1 RETURNING sealed_request, expires_at',
        [stateHash],
      );
      const row = (rows as Row[])[0];
      if (!row || (row.expires_at as Date).getTime() < Date.now()) return undefined;
      return open<PendingRequest>(row.sealed_request as Buffer, oauthContexts.state(stateHash));
    },

    tokens: (server: string, user: string) => readTokens(ds, server, user, false),
    /** Deletes one user's tokens for one server; the tokens, if there were any. */
    async deleteTokens(server: string, user: string): Promise<TokenSet | undefined> {
      return ds.transaction(async (m) => {
        const current = await readTokens(m, server, user, true);
        if (current)
          await m.query('DELETE FROM upstream_oauth_tokens WHERE server = $1 AND user_name = $2', [
            server,
            user,
          ]);
        return current;
      });
    },
    saveTokens: (server: string, user: string, t: TokenSet) => writeTokens(ds, server, user, t),

    /**
     * Runs `fn` with the row locked (`SELECT … FOR UPDATE`), so that replicas refreshing the same
     * user's token take turns and the second one sees the first one's result.
     */
    withLockedTokens<T>(
      server: string,
      user: string,
      fn: (current: TokenSet | undefined, save: (t: TokenSet) => Promise<void>) => Promise<T>,
    ): Promise<T> {
      return ds.transaction(async (m) =>
        fn(await readTokens(m, server, user, true), (t) => writeTokens(m, server, user, t)),
      );
    },
  };
}

export type OAuthStore = ReturnType<typeof createOAuthStore>;
