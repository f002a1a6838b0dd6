/**
 * Wires identity together for one replica: the sealed stores, the authorization server mounted on
 * the public Fastify app (before body parsing, since oidc-provider reads bodies itself), the login
 * and consent routes, the bootstrap owner, and periodic removal of expired authorization state.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { DataSource } from 'typeorm';
import type { ServerRegistry } from '../catalog/server-registry.ts';
import type { Settings } from '../config.ts';
import type { SigningKeys } from '../keys/signing-keys.ts';
import { type AuthorizationServer, createAuthorizationServer, OAUTH_ROUTES } from './authorization-server.ts';
import { cookiePolicy } from './cookie-policy.ts';
import type { ExternalIdp } from './external-idp.ts';
import { generatedSecret } from './generated-secret.ts';
import { createGithubIdp } from './github-idp.ts';
import { interactionRoutes } from './interactions.ts';
import { createLocalAccounts, type LocalAccounts } from './local-accounts.ts';
import { createLoginStates } from './login-state.ts';
import { createLoginThrottle, type LoginThrottle } from './login-throttle.ts';
import { deleteExpired } from './oidc-adapter.ts';
import { createOidcIdp } from './oidc-idp.ts';
import { createRegistrationThrottle } from './registration-throttle.ts';
import type { SecretSealer } from './secret-sealer.ts';
import { setupPageRoutes } from './setup-page.ts';
import { createUserStore, type UserStore } from './user-store.ts';

export interface IdentityOptions {
  settings: Settings;
  ds: DataSource;
  keys: SigningKeys;
  registry: ServerRegistry;
  log: (msg: string, fields: Record<string, unknown>) => void;
  /** How secrets are sealed in Postgres. */
  sealer: SecretSealer;
}

export interface Identity {
  authorizationServer: AuthorizationServer;
  users: UserStore;
  accounts: LocalAccounts;
  /** Failed password checks per account and IP, in this replica's memory. */
  loginThrottle: LoginThrottle;
  /** Mounts the authorization server and the login pages on the public app. */
  register(app: FastifyInstance): Promise<void>;
  close(): void;
}

const CLEANUP_INTERVAL_MS = 10 * 60 * 1000;

export async function createIdentity(o: IdentityOptions): Promise<Identity> {
  const { settings, ds } = o;
  const { sealer } = o;
  const users = createUserStore(ds);
  const accounts = createLocalAccounts(ds);
  const loginThrottle = createLoginThrottle();
  const registrations = createRegistrationThrottle({
    perAddressPerHour: settings.registrationsPerAddressPerHour,
    perHour: settings.registrationsPerHour,
  });
  const cookies = cookiePolicy(settings.publicUrl);
  const cookieKey = await generatedSecret(ds, sealer, 'oauth-cookie-key');
  const csrfKey = await generatedSecret(ds, sealer, 'csrf-key');

  // The bootstrap administrator owns the installation until an owner is bound some other way.
  const bindings = await users.bindings();
  if (!bindings.some((b) => b.role === 'owner')) {
    await users.bind({ kind: 'user', principal: settings.adminEmail.toLowerCase(), role: 'owner' });
  }
  if (settings.adminPassword && settings.localAccounts) {
    await users.createLocal(settings.adminEmail, settings.adminPassword, 'Administrator').catch(() => {
      // exists already: the password set through the environment only seeds a first account
    });
  }

  const authorizationServer = createAuthorizationServer({
    issuer: settings.publicUrl,
    ds,
    sealer,
    users,
    registry: o.registry,
    signingJwks: o.keys.privateJwks,
    cookieKeys: [cookieKey],
    cookies,
    accessTokenTtlSeconds: settings.tokenTtlSeconds,
    refreshTokenTtlSeconds: settings.refreshTokenTtlSeconds,
    cimdTrustedHosts: settings.cimdTrustedHosts,
  });
  const idps: ExternalIdp[] = [];
  if (settings.oidc) idps.push(createOidcIdp(settings.oidc));
  if (settings.github) idps.push(createGithubIdp(settings.github));

  const cleanup = setInterval(() => {
    deleteExpired(ds).catch((err: Error) =>
      o.log('expired authorization state not deleted', { error: err.message }),
    );
  }, CLEANUP_INTERVAL_MS);
  cleanup.unref();

  return {
    authorizationServer,
    users,
    accounts,
    loginThrottle,
    async register(app) {
      app.addHook('onRequest', (req, reply, done) => {
        const path = req.url.split('?', 1)[0]!;
        if (!authorizationServer.owns(path)) return done();
        if (path === OAUTH_ROUTES.registration && req.method === 'POST') {
          // Open registration leaves a row per client: bounded per address and per replica.
          const verdict = registrations.admit(req.ip);
          if (!verdict.admitted) {
            const per = verdict.limit === 'address' ? 'from this address' : 'on this server';
            reply
              .code(429)
              .header('retry-after', String(verdict.retryAfterSeconds))
              .header('cache-control', 'no-store')
              .send({
                error: 'temporarily_unavailable',
                error_description: `too many client registrations ${per} this hour; retry in ${verdict.retryAfterSeconds} s`,
              });
            return;
          }
        }
        reply.hijack();
        authorizationServer.handle(req.raw, reply.raw);
      });
      await app.register(
        interactionRoutes({
          provider: authorizationServer.provider,
          issuer: settings.publicUrl,
          users,
          idps,
          localAccounts: settings.localAccounts,
          loginStates: createLoginStates(ds, sealer),
          cookies,
          csrfKey,
          throttle: loginThrottle,
        }),
      );
      await app.register(setupPageRoutes({ accounts, csrfKey }));
    },
    close() {
      clearInterval(cleanup);
    },
  };
}
