/**
 * The OAuth 2.1 authorization server for MCP clients, built on oidc-provider:
 * - metadata at `/.well-known/oauth-authorization-server` (and `openid-configuration`);
 * - dynamic client registration and client ID metadata documents (https `client_id` URLs, fetched
 *   by oidc-provider with its SSRF guard, a 2.5 s timeout and a size limit; hosts listed in
 *   `TESSERA_CIMD_TRUSTED_HOSTS` skip the guard, through oidc-provider's documented `fetch` hook);
 * - authorization code with PKCE S256 only (oidc-provider implements no other method), exact
 *   redirect URI matching;
 * - RFC 8707 resource indicators: an access token is an ES256 JWT (`typ: at+jwt`) whose `aud` is one
 *   registered MCP server's resource URI, signed with the key proxies already trust, carrying
 *   `email`, `groups`, `roles` and `client_id`;
 * - refresh tokens, rotated at every use; revocation.
 * Its state lives in Postgres through `postgresAdapter`.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWK } from 'jose';
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { DataSource } from 'typeorm';
import type { ServerRegistry } from '../catalog/server-registry.ts';
import { MCP_SCOPE } from '../mesh/snapshot.ts';
import { ADMIN_SCOPE, adminResource } from './admin-principal.ts';
import type { CookiePolicy } from './cookie-policy.ts';
import { esc, PAGE_HEADERS, page } from './html-page.ts';
import { postgresAdapter } from './oidc-adapter.ts';
import type { SecretSealer } from './secret-sealer.ts';
import type { UserStore } from './user-store.ts';

/** Where oidc-provider's endpoints live under the public URL. */
export const OAUTH_ROUTES = {
  authorization: '/oauth/authorize',
  token: '/oauth/token',
  registration: '/oauth/register',
  revocation: '/oauth/revoke',
  jwks: '/oauth/jwks',
  userinfo: '/oauth/userinfo',
  end_session: '/oauth/logout',
  introspection: '/oauth/introspect',
  pushed_authorization_request: '/oauth/par',
  code_verification: '/oauth/device',
  device_authorization: '/oauth/device/auth',
  backchannel_authentication: '/oauth/backchannel',
  challenge: '/oauth/challenge',
  credential: '/oauth/credential',
} as const;

export interface AuthorizationServerOptions {
  issuer: string;
  ds: DataSource;
  sealer: SecretSealer;
  users: UserStore;
  registry: ServerRegistry;
  /** The control plane's ES256 signing keys as private JWKs (with kid); the first signs. */
  signingJwks: JWK[];
  /** Keys that sign oidc-provider's cookies; the first signs, all verify. */
  cookieKeys: string[];
  cookies: CookiePolicy;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  /**
   * Hosts whose client ID metadata documents are fetched without oidc-provider's guard against
   * private and loopback addresses: for tests and private deployments only.
   */
  cimdTrustedHosts: readonly string[];
}

/**
 * The control plane's own sign-in client: pages that need a signed-in browser (the connect link)
 * send it through an authorization request of this client, which asks no consent (it is first
 * party, and only learns that the browser signed in).
 */
export const SIGN_IN_CLIENT_ID = 'tessera-sign-in';
export const signInRedirectUri = (issuer: string): string => `${issuer}/login/return`;

export interface AuthorizationServer {
  provider: Provider;
  /** Serves an oidc-provider request on the raw Node objects. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Whether a request path belongs to oidc-provider. */
  owns(path: string): boolean;
  /** The user id of the signed-in browser session the request's cookie names, if any. */
  sessionAccount(req: IncomingMessage, res: ServerResponse): Promise<string | undefined>;
}

/** A resource URI in the form used for comparison: lowercase scheme and host, no trailing slash. */
export function canonicalResource(uri: string): string | undefined {
  const u = URL.parse(uri);
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hash || u.search) return undefined;
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

export function createAuthorizationServer(o: AuthorizationServerOptions): AuthorizationServer {
  async function serverFor(resource: string) {
    const wanted = canonicalResource(resource);
    return (await o.registry.list()).find((s) => canonicalResource(s.resourceUri) === wanted);
  }

  const provider = new Provider(o.issuer, {
    adapter: postgresAdapter(o.ds, o.sealer),
    routes: OAUTH_ROUTES,
    jwks: { keys: o.signingJwks },
    cookies: {
      keys: o.cookieKeys,
      names: {
        session: o.cookies.name('tessera_oauth_session'),
        // These two are scoped to one interaction's path, which `__Host-` forbids.
        interaction: 'tessera_interaction',
        resume: 'tessera_resume',
      },
      long: { httpOnly: true, sameSite: 'lax', secure: o.cookies.secure },
      short: { httpOnly: true, sameSite: 'lax', secure: o.cookies.secure },
    },
    scopes: ['openid', 'offline_access', 'email', 'profile', 'groups', MCP_SCOPE],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name'],
      groups: ['groups', 'roles'],
    },
    async findAccount(_ctx, sub) {
      const user = await o.users.get(sub);
      if (!user) return undefined;
      return {
        accountId: user.id,
        async claims() {
          return {
            sub: user.id,
            email: user.email,
            email_verified: true,
            name: user.name,
            groups: user.groups,
            roles: user.roles,
          };
        },
      };
    },
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'none',
    },
    clients: [
      {
        client_id: SIGN_IN_CLIENT_ID,
        client_name: 'Tessera',
        redirect_uris: [signInRedirectUri(o.issuer)],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'none',
      },
    ],
    async loadExistingGrant(ctx) {
      const { client, session, result } = ctx.oidc;
      const grantId = result?.consent?.grantId ?? (client && session?.grantIdFor(client.clientId));
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      if (client?.clientId !== SIGN_IN_CLIENT_ID || !session?.accountId) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope('openid');
      await grant.save();
      return grant;
    },
    responseTypes: ['code'],
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      clientIdMetadataDocument: {
        enabled: true,
        ack: 'draft-02',
        // https only; oidc-provider refuses private and loopback addresses and redirects itself.
        allowFetch: async (_ctx, clientId) => clientId.startsWith('https://'),
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf,
        useGrantedResource: async () => true,
        async getResourceServerInfo(_ctx, resourceIndicator) {
          // The admin API is a resource too, so that a CLI can sign in through the browser.
          if (canonicalResource(resourceIndicator) === canonicalResource(adminResource(o.issuer))) {
            return {
              scope: ADMIN_SCOPE,
              audience: adminResource(o.issuer),
              accessTokenTTL: o.accessTokenTtlSeconds,
              accessTokenFormat: 'jwt',
              jwt: { sign: { alg: 'ES256' } },
            };
          }
          const server = await serverFor(resourceIndicator);
          if (!server)
            throw new errors.InvalidTarget(`no MCP server has the resource URI ${resourceIndicator}`);
          return {
            scope: MCP_SCOPE,
            audience: server.resourceUri,
            accessTokenTTL: o.accessTokenTtlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    async extraTokenClaims(_ctx, token) {
      if (token.kind !== 'AccessToken' || !token.accountId) return undefined;
      const user = await o.users.get(token.accountId);
      if (!user) return undefined;
      return { email: user.email, groups: user.groups, roles: user.roles };
    },
    // MCP clients ask for resource scopes, not offline_access: a refresh token is issued whenever
    // the client may use one, and rotated at every use (OAuth 2.1 for public clients).
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: () => true,
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: o.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      RefreshToken: o.refreshTokenTtlSeconds,
      Grant: o.refreshTokenTtlSeconds,
      Session: o.refreshTokenTtlSeconds,
      Interaction: 600,
      IdToken: 3600,
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // oidc-provider passes its SSRF-guarded dispatcher in the options; trusted hosts go without it.
    fetch(url, options) {
      const host = URL.parse(String(url))?.host;
      if (host && o.cimdTrustedHosts.includes(host)) {
        const { dispatcher: _guarded, ...rest } = options as RequestInit & { dispatcher?: unknown };
        return fetch(url, rest);
      }
      return fetch(url, options);
    },
    // Browsers may call the token and revocation endpoints from a public client's own origin only.
    clientBasedCORS(_ctx, origin, client) {
      return (client.redirectUris ?? []).some((uri) => URL.parse(uri)?.origin === origin);
    },
    async renderError(ctx: KoaContextWithOIDC, out) {
      for (const [k, v] of Object.entries(PAGE_HEADERS)) ctx.set(k, v);
      ctx.body = page(
        'Sign-in failed',
        `<p class="error"><code>${esc(out.error)}</code>: ${esc(out.error_description ?? '')}</p>`,
      );
    },
  });
  // Behind a TLS-terminating load balancer the public URL is https while this listener is plain
  // http: trust X-Forwarded-Proto so that Secure cookies are set.
  if (o.cookies.secure) provider.proxy = true;

  const callback = provider.callback();
  const sessionCookie = o.cookies.name('tessera_oauth_session');
  const wellKnown = new Set(['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']);
  return {
    provider,
    owns: (path) => path.startsWith('/oauth/') || wellKnown.has(path),
    async sessionAccount(req, res) {
      if (!req.headers.cookie?.includes(`${sessionCookie}=`)) return undefined;
      const session = await provider.Session.get(provider.createContext(req, res));
      return session.accountId;
    },
    handle(req, res) {
      // RFC 8414 metadata is the same document as OpenID discovery's.
      if (req.url?.startsWith('/.well-known/oauth-authorization-server')) {
        req.url = req.url.replace(
          '/.well-known/oauth-authorization-server',
          '/.well-known/openid-configuration',
        );
      }
      callback(req, res);
    },
  };
}
