/**
 * The admin HTTP API: servers, grants, policies, credentials, tokens, API keys, mesh status,
 * users and role bindings, and the audit log. Every route is authorized by role (see
 * `admin-auth.ts` and the table in `identity/admin-permissions.ts`).
 *
 * @module
 */

import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { DataSource } from 'typeorm';
import type { ApiKeyStore } from '../api-keys/api-key-store.ts';
import { EMPTY_POLICY, parsePolicyInput, policyView } from '../catalog/policy-input.ts';
import { parseGrants, parseServerInput, SERVER_NAME } from '../catalog/server-input.ts';
import type { ServerRegistry } from '../catalog/server-registry.ts';
import type { OAuthStore } from '../credentials/oauth/oauth-store.ts';
import type { StaticCredentials } from '../credentials/static-credentials.ts';
import type { Keyring } from '../crypto/open-secret-box.ts';
import type { McpServerRow } from '../db/entities/mcp-server.ts';
import { TesseraError } from '../errors.ts';
import type { createPrincipalResolver, Principal } from '../identity/admin-principal.ts';
import type { LocalAccounts } from '../identity/local-accounts.ts';
import type { LoginThrottle } from '../identity/login-throttle.ts';
import { allows } from '../identity/roles.ts';
import type { UserStore } from '../identity/user-store.ts';
import { rotateKeys } from '../keys/rotate-keys.ts';
import type { SigningKeys } from '../keys/signing-keys.ts';
import { proxyMeshToken } from '../mesh/mesh-auth.ts';
import type { MeshStatusView } from '../mesh/status-store.ts';
import { mintAccessToken } from '../tokens/mint-token.ts';
import { installAdminAuth, principalOf } from './admin-auth.ts';
import { registerApiKeyRoutes } from './api-key-routes.ts';
import { registerAuditRoutes } from './audit-routes.ts';
import { registerCredentialRoutes } from './credential-routes.ts';
import { registerIdentityRoutes } from './identity-routes.ts';
import { registerLocalAccountRoutes } from './local-account-routes.ts';
import { registerOAuthRoutes } from './oauth-routes.ts';

export interface AdminApiOptions {
  /** Resolves the caller of each request (bootstrap token, access token, browser session). */
  resolve: ReturnType<typeof createPrincipalResolver>;
  users: UserStore;
  /** Local accounts, and whether they may sign in (`TESSERA_LOCAL_ACCOUNTS`). */
  accounts: LocalAccounts;
  localAccounts: boolean;
  /** Shared with the login page, so password guesses count the same wherever they are made. */
  loginThrottle: LoginThrottle;
  ds: DataSource;
  registry: ServerRegistry;
  /** Every replica's proxies; `partial` when only this replica's could be read. */
  meshStatus: () => Promise<MeshStatusView>;
  keys: () => SigningKeys;
  issuer: string;
  tokenTtlSeconds: number;
  /** The mesh secret, from which each server's proxy token is derived. */
  meshSecret: string;
  apiKeys: ApiKeyStore;
  statics: StaticCredentials;
  oauthStore: OAuthStore;
  keyring: Keyring;
}

function view(s: McpServerRow) {
  return {
    name: s.name,
    kind: s.kind,
    resourceUri: s.resourceUri,
    url: s.url,
    command: s.command,
    args: s.args,
    localPort: s.localPort,
    grants: { users: s.grantUsers, groups: s.grantGroups },
    policy: policyView({ ...EMPTY_POLICY, ...s.policy }),
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

/** What someone without read_catalog sees of a server granted to them: how to reach it, nothing of its setup. */
const grantedView = (s: McpServerRow) => ({ name: s.name, kind: s.kind, resourceUri: s.resourceUri });

function isGranted(s: McpServerRow, p: Principal): boolean {
  return (
    s.grantUsers.some((u) => u.toLowerCase() === p.email.toLowerCase()) ||
    s.grantGroups.some((g) => p.groups.includes(g))
  );
}

const EMAIL = /^[^@\s]{1,64}@[^@\s]{1,255}$/;

function parseMint(body: unknown): { user: string; server: string; groups: string[] } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new TesseraError('TESSERA_INVALID_ARGUMENT', 'the body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!['user', 'server', 'groups'].includes(k))
      throw new TesseraError('TESSERA_INVALID_ARGUMENT', `unknown field "${k}"`);
  }
  if (typeof b.user !== 'string' || !EMAIL.test(b.user)) {
    throw new TesseraError('TESSERA_INVALID_ARGUMENT', '"user" must be an email address');
  }
  if (typeof b.server !== 'string' || !SERVER_NAME.test(b.server)) {
    throw new TesseraError('TESSERA_INVALID_ARGUMENT', '"server" must be a server name');
  }
  const groups = b.groups ?? [];
  if (
    !Array.isArray(groups) ||
    groups.length > 100 ||
    !groups.every((g) => typeof g === 'string' && g.length > 0 && g.length <= 256)
  ) {
    throw new TesseraError(
      'TESSERA_INVALID_ARGUMENT',
      '"groups" must be an array of at most 100 non-empty strings',
    );
  }
  return { user: b.user, server: b.server, groups: groups as string[] };
}

export function adminApiPlugin(options: AdminApiOptions) {
  return async (app: FastifyInstance) => {
    installAdminAuth(app, { resolve: options.resolve, publicOrigin: new URL(options.issuer).origin });

    app.setErrorHandler((err: FastifyError | TesseraError, _req: FastifyRequest, reply: FastifyReply) => {
      if (err instanceof TesseraError)
        return reply.code(err.httpStatus).send({ error: err.code, message: err.message });
      const status = (err as FastifyError).statusCode;
      if (status && status >= 400 && status < 500) {
        return reply.code(status).send({ error: 'TESSERA_INVALID_ARGUMENT', message: err.message });
      }
      app.log.error(err);
      return reply.code(500).send({ error: 'TESSERA_INTERNAL', message: 'internal error' });
    });

    app.get('/api/v1/servers', async (req) => {
      const p = principalOf(req);
      const all = await options.registry.list();
      if (allows(p.roles, 'read_catalog')) return { servers: all.map(view) };
      return { servers: all.filter((s) => isGranted(s, p)).map(grantedView) };
    });

    app.get('/api/v1/servers/:name', async (req) => {
      const { name } = req.params as { name: string };
      const p = principalOf(req);
      const s = await options.registry.get(name);
      // A server not granted to someone who cannot read the catalog does not exist for them.
      if (!s || (!allows(p.roles, 'read_catalog') && !isGranted(s, p)))
        throw new TesseraError('TESSERA_NOT_FOUND', `server "${name}" does not exist`);
      return allows(p.roles, 'read_catalog') ? view(s) : grantedView(s);
    });

    app.post('/api/v1/servers', async (req, reply) => {
      const created = await options.registry.create(parseServerInput(req.body));
      return reply.code(201).send(view(created));
    });

    app.put('/api/v1/servers/:name/grants', async (req) => {
      const { name } = req.params as { name: string };
      return view(await options.registry.setGrants(name, parseGrants(req.body)));
    });

    app.put('/api/v1/servers/:name/policy', async (req) => {
      const { name } = req.params as { name: string };
      return view(await options.registry.setPolicy(name, parsePolicyInput(req.body)));
    });

    app.post('/api/v1/tokens', async (req) => {
      const { user, server, groups } = parseMint(req.body);
      const s = await options.registry.get(server);
      if (!s) throw new TesseraError('TESSERA_NOT_FOUND', `server "${server}" does not exist`);
      const { token, expiresAt } = await mintAccessToken({
        keys: options.keys(),
        issuer: options.issuer,
        audience: s.resourceUri,
        subject: user,
        email: user,
        groups,
        ttlSeconds: options.tokenTtlSeconds,
      });
      return {
        access_token: token,
        token_type: 'Bearer',
        expires_in: options.tokenTtlSeconds,
        expires_at: expiresAt.toISOString(),
        resource: s.resourceUri,
      };
    });

    registerApiKeyRoutes(app, options.apiKeys);
    registerCredentialRoutes(app, { registry: options.registry, statics: options.statics });
    registerOAuthRoutes(app, { registry: options.registry, store: options.oauthStore });

    // Rotation: with the local key file a new key is made current first; with TESSERA_ENCRYPTION_KEYS
    // or KMS the operator has already configured the new key. Then every data key is re-wrapped.
    app.post('/api/v1/keys/rotate', async () => {
      const { keyring } = options;
      await keyring.addKey?.();
      const result = await rotateKeys(options.ds, keyring.box);
      await keyring.retireOldKeys?.();
      return result;
    });
    registerIdentityRoutes(app, options.users);
    registerLocalAccountRoutes(app, {
      users: options.users,
      accounts: options.accounts,
      throttle: options.loginThrottle,
      enabled: options.localAccounts,
      publicUrl: options.issuer,
    });
    registerAuditRoutes(app, options.ds);

    app.get('/api/v1/mesh/proxies', () => options.meshStatus());

    // The mesh token for a server's proxies, for operators who start proxies themselves.
    app.post('/api/v1/mesh/tokens', async (req) => {
      const b = req.body as { server?: unknown } | null;
      if (typeof b !== 'object' || b === null || Object.keys(b).some((k) => k !== 'server')) {
        throw new TesseraError('TESSERA_INVALID_ARGUMENT', 'the body must be {"server": "<name>"}');
      }
      if (typeof b.server !== 'string' || !SERVER_NAME.test(b.server)) {
        throw new TesseraError('TESSERA_INVALID_ARGUMENT', '"server" must be a server name');
      }
      if (!(await options.registry.get(b.server))) {
        throw new TesseraError('TESSERA_NOT_FOUND', `server "${b.server}" does not exist`);
      }
      return { server: b.server, token: proxyMeshToken(options.meshSecret, b.server) };
    });
  };
}
