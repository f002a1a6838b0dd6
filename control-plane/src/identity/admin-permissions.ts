/**
 * Which permission each admin API route needs: one table, read by the admin API's authorization
 * hook and by the README. A route missing here cannot be registered (the admin API refuses it at
 * start), so no route is ever reachable without a decision.
 *
 * @module
 */
import { allows, type Permission, type Role } from './roles.ts';

/**
 * Route (`METHOD /path` as registered) → the permissions of which the caller needs at least one.
 * An empty list means any signed-in caller. Routes that accept a lesser permission narrow their
 * answer to the caller's own things (noted per route).
 */
export const ADMIN_ROUTE_PERMISSIONS: Readonly<Record<string, readonly Permission[]>> = {
  'GET /api/v1/me': [],
  // Only a local account's own password, and only with the current one.
  'POST /api/v1/me/password': [],
  // Without read_catalog: only the servers granted to the caller, without policy or commands.
  'GET /api/v1/servers': ['read_catalog', 'use_servers'],
  'GET /api/v1/servers/:name': ['read_catalog', 'use_servers'],
  'POST /api/v1/servers': ['manage_catalog'],
  'PUT /api/v1/servers/:name/grants': ['manage_catalog'],
  'PUT /api/v1/servers/:name/policy': ['manage_catalog'],
  'PUT /api/v1/servers/:name/credentials': ['manage_catalog'],
  'GET /api/v1/servers/:name/credentials': ['manage_catalog'],
  'DELETE /api/v1/servers/:name/credentials': ['manage_catalog'],
  'PUT /api/v1/servers/:name/oauth': ['manage_catalog'],
  'GET /api/v1/servers/:name/oauth': ['manage_catalog'],
  'DELETE /api/v1/servers/:name/oauth': ['manage_catalog'],
  'POST /api/v1/keys/rotate': ['manage_keys'],
  'POST /api/v1/tokens': ['manage_catalog'],
  // Without manage_catalog: the caller's own keys only, with at most the caller's own groups.
  'POST /api/v1/api-keys': ['manage_catalog', 'manage_own_clients'],
  'GET /api/v1/api-keys': ['manage_catalog', 'manage_own_clients'],
  'DELETE /api/v1/api-keys/:id': ['manage_catalog', 'manage_own_clients'],
  'GET /api/v1/mesh/proxies': ['read_catalog'],
  'POST /api/v1/mesh/tokens': ['manage_catalog'],
  'GET /api/v1/users': ['manage_identity'],
  // An account whose email holds owner: only by an owner.
  'POST /api/v1/users': ['manage_identity'],
  'DELETE /api/v1/users/:id': ['manage_identity'],
  'GET /api/v1/role-bindings': ['manage_identity'],
  'POST /api/v1/role-bindings': ['manage_identity'],
  'DELETE /api/v1/role-bindings': ['manage_identity'],
  // Captured bodies additionally need read_audit_bodies (the auditor's); others get them redacted.
  'GET /api/v1/audit': ['read_audit'],
};

export function routeKey(method: string, url: string): string {
  return `${method.toUpperCase()} ${url}`;
}

/**
 * What `roles` lack for a route: undefined when allowed, else the permissions of which one is needed.
 * A route absent from the table is refused (fails closed).
 *
 * @example
 * missingFor(['basic'], 'GET /api/v1/audit') // ['read_audit']
 * missingFor(['auditor'], 'GET /api/v1/audit') // undefined
 */
export function missingFor(roles: readonly Role[], route: string): readonly Permission[] | undefined {
  const needed = ADMIN_ROUTE_PERMISSIONS[route];
  if (!needed) return ['manage_identity'];
  if (needed.length === 0 || needed.some((p) => allows(roles, p))) return undefined;
  return needed;
}
