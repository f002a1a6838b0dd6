/**
 * The OAuth client flow for MCP servers with their own authorization server, end to end:
 *
 * 1. A proxy asks for a user's credential; without a usable token the answer is a connect link
 *    (`/api/v1/connect/<server>?t=…`), signed by the control plane, naming the user and the server,
 *    valid a few minutes.
 * 2. The user opens it: discovery, client registration, a fresh PKCE pair and a random `state`
 *    whose request (user, server, verifier, issuer) is kept sealed server-side; redirect to the
 *    authorization server with `resource` = the MCP server's canonical URI.
 * 3. The callback takes the state (once), checks RFC 9207 `iss`, exchanges the code with the
 *    verifier and `resource`, and stores the tokens sealed per (server, user).
 * 4. Later requests get `Authorization: Bearer …`; an expired token is refreshed once per user even
 *    when many requests (or replicas) ask at the same time.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, SignJWT } from 'jose';
import { TesseraError } from '../../errors.ts';
import type { SigningKeys } from '../../keys/signing-keys.ts';
import type { Credential, CredentialSource } from '../credential-broker.ts';
import { checkCallback, pkce } from './authorization-response.ts';
import { obtainClient, redirectUri } from './client-registration.ts';
import { discoverAuthorization } from './discover.ts';
import type { OAuthStore, TokenSet } from './oauth-store.ts';
import type { OutboundFetch } from './outbound-fetch.ts';
import { type RevocationOutcome, revokeTokens } from './revoke-tokens.ts';
import { callTokenEndpoint, GrantRefusedError } from './token-endpoint.ts';

const LINK_TTL_S = 600;
const STATE_TTL_MS = 10 * 60_000;
/** A token this close to expiry is refreshed already, so it cannot expire on its way upstream. */
const EXPIRY_SKEW_MS = 60_000;
const LINK_TYPE = 'tessera-connect+jwt';

export interface OAuthFlow extends CredentialSource {
  /** The link a user opens to connect their account at `server`. */
  connectUrl(server: string, user: string): Promise<string>;
  /** The user a connect link names; throws when the link is forged, expired or for another server. */
  linkUser(server: string, linkToken: string): Promise<string>;
  /** Checks a connect link and answers the authorization server URL to redirect the browser to. */
  begin(server: string, linkToken: string): Promise<string>;
  /**
   * Handles the authorization server's redirect back. `signedIn` says whether the browser's session
   * is the user the request was started for; when it is not, nothing is stored.
   */
  complete(
    query: URLSearchParams,
    signedIn: (user: string) => boolean,
  ): Promise<{ server: string; user: string }>;
  /** Deletes a user's tokens for a server and revokes them upstream (best effort); false when none. */
  disconnect(server: string, user: string): Promise<{ revocation: RevocationOutcome } | undefined>;
}

const hashState = (state: string) => createHash('sha256').update(state).digest('base64url');

export function createOAuthFlow(options: {
  store: OAuthStore;
  fetcher: OutboundFetch;
  keys: () => SigningKeys;
  publicUrl: string;
  now?: () => Date;
}): OAuthFlow {
  const { store, fetcher, publicUrl } = options;
  const now = options.now ?? (() => new Date());
  const linkAudience = `${publicUrl}/api/v1/connect`;
  const inFlight = new Map<string, Promise<Credential>>();

  async function connectUrl(server: string, user: string): Promise<string> {
    const keys = options.keys();
    const token = await new SignJWT({ server })
      .setProtectedHeader({ alg: 'ES256', kid: keys.kid, typ: LINK_TYPE })
      .setIssuer(publicUrl)
      .setAudience(linkAudience)
      .setSubject(user)
      .setIssuedAt()
      .setExpirationTime(Math.floor(now().getTime() / 1000) + LINK_TTL_S)
      .sign(keys.privateKey);
    return `${publicUrl}/api/v1/connect/${encodeURIComponent(server)}?t=${token}`;
  }

  const bearer = (t: TokenSet): Credential => ({
    headers: [['authorization', `Bearer ${t.accessToken}`]],
    expiresAt: t.expiresAt,
  });
  const fresh = (t: TokenSet) => !t.expiresAt || t.expiresAt.getTime() - EXPIRY_SKEW_MS > now().getTime();
  const connect = async (server: string, user: string): Promise<Credential> => ({
    headers: [],
    connectUrl: await connectUrl(server, user),
  });

  async function refresh(server: string, user: string): Promise<Credential> {
    return store.withLockedTokens(server, user, async (current, save) => {
      if (!current) return connect(server, user);
      if (fresh(current)) return bearer(current); // another request or replica refreshed it
      if (!current.refreshToken) return connect(server, user);
      let answer: Awaited<ReturnType<typeof callTokenEndpoint>>;
      try {
        answer = await callTokenEndpoint(fetcher, {
          tokenEndpoint: current.tokenEndpoint,
          client: current.client,
          params: {
            grant_type: 'refresh_token',
            refresh_token: current.refreshToken,
            resource: current.resource,
          },
          now: now(),
        });
      } catch (err) {
        if (err instanceof GrantRefusedError) return connect(server, user);
        throw new TesseraError('TESSERA_UNAVAILABLE', 'the token could not be refreshed', { cause: err });
      }
      const next: TokenSet = {
        ...current,
        accessToken: answer.accessToken,
        // Rotation: a new refresh token replaces the old one, which the server has now revoked.
        refreshToken: answer.refreshToken ?? current.refreshToken,
        expiresAt: answer.expiresAt,
      };
      await save(next);
      return bearer(next);
    });
  }

  async function linkUser(server: string, linkToken: string): Promise<string> {
    let user: string;
    try {
      const keys = options.keys();
      const { payload } = await jwtVerify(linkToken, createLocalJWKSet(keys.jwks), {
        issuer: publicUrl,
        audience: linkAudience,
        typ: LINK_TYPE,
        currentDate: now(),
      });
      if (payload.server !== server || typeof payload.sub !== 'string') throw new Error('wrong server');
      user = payload.sub;
    } catch (err) {
      throw new TesseraError(
        'TESSERA_UNAUTHENTICATED',
        'this connect link is invalid or has expired; ask your MCP client for a new one',
        { cause: err },
      );
    }
    return user;
  }

  return {
    connectUrl,

    async resolve(server, user) {
      const config = await store.config(server);
      if (!config) return undefined;
      if (!user) return { headers: [] }; // nobody to connect an account for
      const tokens = await store.tokens(server, user);
      if (!tokens) return connect(server, user);
      if (fresh(tokens)) return bearer(tokens);
      const key = `${server}\0${user}`;
      let pending = inFlight.get(key);
      if (!pending) {
        pending = refresh(server, user).finally(() => inFlight.delete(key));
        inFlight.set(key, pending);
      }
      return pending;
    },

    linkUser,

    async begin(server, linkToken) {
      const user = await linkUser(server, linkToken);
      const config = await store.config(server);
      if (!config) throw new TesseraError('TESSERA_NOT_FOUND', `server "${server}" does not use OAuth`);
      const target = await discoverAuthorization(fetcher, config.mcpUrl);
      const scopes = config.scopes.length ? config.scopes : target.scopesSupported;
      const client = await obtainClient({ fetcher, store, server, target, publicUrl });
      const { verifier, challenge } = pkce();
      const state = randomBytes(32).toString('base64url');
      await store.saveState(
        hashState(state),
        {
          server,
          user,
          verifier,
          issuer: target.issuer,
          issParameterSupported: target.issParameterSupported,
          tokenEndpoint: target.tokenEndpoint,
          resource: target.resource,
          redirectUri: redirectUri(publicUrl),
          client,
        },
        new Date(now().getTime() + STATE_TTL_MS),
      );
      const url = new URL(target.authorizationEndpoint);
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('client_id', client.clientId);
      url.searchParams.set('redirect_uri', redirectUri(publicUrl));
      url.searchParams.set('state', state);
      url.searchParams.set('code_challenge', challenge);
      url.searchParams.set('code_challenge_method', 'S256');
      url.searchParams.set('resource', target.resource);
      if (scopes.length) url.searchParams.set('scope', scopes.join(' '));
      return url.toString();
    },

    async complete(query, signedIn) {
      const state = query.get('state') ?? '';
      const pending = state ? await store.takeState(hashState(state)) : undefined;
      if (!pending)
        throw new TesseraError(
          'TESSERA_INVALID_ARGUMENT',
          'unknown, expired or already used state; start again from the connect link',
        );
      if (!signedIn(pending.user))
        throw new TesseraError(
          'TESSERA_PERMISSION_DENIED',
          `this connection was started for ${pending.user}, who is not the signed-in user; nothing was stored`,
        );
      const check = checkCallback(query, {
        state,
        issuer: pending.issuer,
        issParameterSupported: pending.issParameterSupported,
      });
      if (!check.ok)
        throw new TesseraError('TESSERA_INVALID_ARGUMENT', `authorization refused: ${check.detail}`);
      const answer = await callTokenEndpoint(fetcher, {
        tokenEndpoint: pending.tokenEndpoint,
        client: pending.client,
        params: {
          grant_type: 'authorization_code',
          code: check.code,
          redirect_uri: pending.redirectUri,
          code_verifier: pending.verifier,
          resource: pending.resource,
        },
        now: now(),
      });
      await store.saveTokens(pending.server, pending.user, {
        accessToken: answer.accessToken,
        refreshToken: answer.refreshToken,
        expiresAt: answer.expiresAt,
        issuer: pending.issuer,
        tokenEndpoint: pending.tokenEndpoint,
        resource: pending.resource,
        client: pending.client,
      });
      return { server: pending.server, user: pending.user };
    },

    async disconnect(server, user) {
      const tokens = await store.deleteTokens(server, user);
      if (!tokens) return undefined;
      let endpoint: string | undefined;
      try {
        const config = await store.config(server);
        const target = config ? await discoverAuthorization(fetcher, config.mcpUrl) : undefined;
        // Only the server that issued the tokens may be told about them.
        if (target?.issuer === tokens.issuer) endpoint = target.revocationEndpoint;
      } catch {
        return { revocation: 'failed' };
      }
      return { revocation: await revokeTokens(fetcher, endpoint, tokens) };
    },
  };
}
