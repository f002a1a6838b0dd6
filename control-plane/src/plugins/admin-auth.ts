/**
 * Authentication and authorization for every admin API route: the caller is resolved to a
 * principal with roles, and the route's entry in `ADMIN_ROUTE_PERMISSIONS` decides. Registering a
 * route that has no entry fails at start, so a new route cannot ship open.
 *
 * Browser sessions authenticate by cookie, so a change made with one must also come from the
 * control plane's own origin (the Origin header), against cross-site request forgery.
 *
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { TesseraError } from '../errors.ts';
import { ADMIN_ROUTE_PERMISSIONS, missingFor, routeKey } from '../identity/admin-permissions.ts';
import type { createPrincipalResolver, Principal } from '../identity/admin-principal.ts';

const principals = new WeakMap<FastifyRequest, Principal>();
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The principal the authorization hook admitted for this request. */
export function principalOf(req: FastifyRequest): Principal {
  const p = principals.get(req);
  if (!p) throw new TypeError('principalOf() called for a request the admin API did not authorize');
  return p;
}

export interface AdminAuthOptions {
  resolve: ReturnType<typeof createPrincipalResolver>;
  /** The public URL's origin: the only one allowed to change things through a browser session. */
  publicOrigin: string;
}

const asGet = (method: string) => (method === 'HEAD' ? 'GET' : method);

export function installAdminAuth(app: FastifyInstance, o: AdminAuthOptions): void {
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) {
      const key = routeKey(asGet(method), route.url);
      if (!ADMIN_ROUTE_PERMISSIONS[key]) throw new TypeError(`admin route "${key}" has no permission entry`);
    }
  });

  app.addHook('onRequest', async (req, reply) => {
    const resolved = await o.resolve(req.raw, reply.raw);
    if (!resolved || 'problem' in resolved) {
      reply.header('www-authenticate', 'Bearer realm="tessera-admin"');
      throw new TesseraError(
        'TESSERA_UNAUTHENTICATED',
        resolved?.problem ??
          'credentials are required: sign in, or send "Authorization: Bearer <admin token or access token>"',
      );
    }
    const p = resolved.principal;
    if (p.via === 'session' && !SAFE_METHODS.has(req.method) && req.headers.origin !== o.publicOrigin) {
      throw new TesseraError(
        'TESSERA_PERMISSION_DENIED',
        `a change made with a browser session must come from ${o.publicOrigin} (Origin header)`,
      );
    }
    const route = routeKey(asGet(req.method), req.routeOptions.url ?? req.url);
    const missing = missingFor(p.roles, route);
    if (missing) {
      const held = p.roles.length ? `the roles ${p.roles.join(', ')}` : 'no role';
      throw new TesseraError(
        'TESSERA_PERMISSION_DENIED',
        `${route} needs the ${missing.map((m) => `"${m}"`).join(' or ')} permission; ${p.email} holds ${held}`,
      );
    }
    principals.set(req, p);
  });
}
