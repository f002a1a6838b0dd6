/**
 * Who is calling the admin API, and with which roles. Three ways in:
 * - the bootstrap admin token (printed at first start): the owner, always;
 * - an access token the authorization server issued for the admin API itself (resource
 *   `<public URL>/api`, scope `admin`), e.g. for a CLI that logged in through the browser;
 * - the browser session of someone signed in at the authorization server (its `__Host-` cookie).
 * Roles are read from the role bindings at every request, never from the token, so a revoked role
 * takes effect at once.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify } from 'jose';
import { secretEquals } from '../mesh/mesh-auth.ts';
import type { Role } from './roles.ts';
import type { UserStore } from './user-store.ts';

export interface Principal {
  via: 'bootstrap-token' | 'access-token' | 'session';
  /** The user's id; none for the bootstrap token. */
  userId: string | undefined;
  email: string;
  groups: string[];
  roles: Role[];
}

/** The scope an access token needs for the admin API. */
export const ADMIN_SCOPE = 'admin';

/** The admin API's resource URI at the authorization server. */
export const adminResource = (issuer: string): string => `${issuer}/api`;

export interface PrincipalResolverOptions {
  adminToken: string;
  /** Whom the bootstrap token acts as. */
  adminEmail: string;
  issuer: string;
  jwks: JSONWebKeySet;
  users: UserStore;
  /** The user id of the browser session a request carries, if any. */
  sessionAccount(req: IncomingMessage, res: ServerResponse): Promise<string | undefined>;
}

export type Resolution = { principal: Principal } | { problem: string } | undefined;

export function createPrincipalResolver(o: PrincipalResolverOptions) {
  const keySet = createLocalJWKSet(o.jwks);

  async function fromUser(userId: string, via: Principal['via']): Promise<Resolution> {
    const user = await o.users.get(userId);
    if (!user) return { problem: 'the account behind these credentials no longer exists' };
    return { principal: { via, userId: user.id, email: user.email, groups: user.groups, roles: user.roles } };
  }

  /** Undefined when the request carries no credentials at all; a problem when they are not valid. */
  return async function resolve(req: IncomingMessage, res: ServerResponse): Promise<Resolution> {
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer ([\w.~+/=-]{1,8192})$/.exec(auth);
      if (!m) return { problem: 'the Authorization header must be "Bearer <token>"' };
      const token = m[1]!;
      if (secretEquals(token, o.adminToken)) {
        const email = o.adminEmail.toLowerCase();
        return {
          principal: { via: 'bootstrap-token', userId: undefined, email, groups: [], roles: ['owner'] },
        };
      }
      try {
        const { payload } = await jwtVerify(token, keySet, {
          issuer: o.issuer,
          audience: adminResource(o.issuer),
          typ: 'at+jwt',
          algorithms: ['ES256'],
        });
        const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
        if (!scopes.includes(ADMIN_SCOPE))
          return { problem: `the access token lacks the "${ADMIN_SCOPE}" scope` };
        if (typeof payload.sub !== 'string') return { problem: 'the access token names no user' };
        return await fromUser(payload.sub, 'access-token');
      } catch {
        return {
          problem: 'the bearer token is neither the admin token nor a valid access token for this API',
        };
      }
    }
    const userId = await o.sessionAccount(req, res);
    return userId ? fromUser(userId, 'session') : undefined;
  };
}
