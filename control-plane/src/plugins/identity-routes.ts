/**
 * Admin routes for people: who am I, the users who have signed in, and role bindings (grant and
 * revoke a role to a user by email or to a group as the identity provider names it). Only an owner
 * may grant or revoke the owner role, and the last owner binding cannot be removed.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { EMAIL } from '../api-keys/api-key-input.ts';
import { TesseraError } from '../errors.ts';
import { isRole, permissionsOf, ROLES, type RoleBinding } from '../identity/roles.ts';
import type { UserStore } from '../identity/user-store.ts';
import { principalOf } from './admin-auth.ts';

const GROUP = /^[^\p{Cc}]{1,256}$/u;
const MAX_USERS_PAGE = 500;

/** Validates `{ kind, principal, role }` from a body or a query string. */
export function parseBinding(input: unknown): RoleBinding {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new TesseraError(
      'TESSERA_INVALID_ARGUMENT',
      'a role binding must be {"kind", "principal", "role"}',
    );
  }
  const b = input as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!['kind', 'principal', 'role'].includes(k))
      throw new TesseraError('TESSERA_INVALID_ARGUMENT', `unknown field "${k}"`);
  }
  if (b.kind !== 'user' && b.kind !== 'group')
    throw new TesseraError('TESSERA_INVALID_ARGUMENT', '"kind" must be "user" or "group"');
  if (!isRole(b.role))
    throw new TesseraError('TESSERA_INVALID_ARGUMENT', `"role" must be one of ${ROLES.join(', ')}`);
  if (b.kind === 'user') {
    if (typeof b.principal !== 'string' || !EMAIL.test(b.principal))
      throw new TesseraError(
        'TESSERA_INVALID_ARGUMENT',
        '"principal" of a user binding must be an email address',
      );
    return { kind: 'user', principal: b.principal.toLowerCase(), role: b.role };
  }
  if (typeof b.principal !== 'string' || !GROUP.test(b.principal) || b.principal.trim() !== b.principal)
    throw new TesseraError(
      'TESSERA_INVALID_ARGUMENT',
      '"principal" of a group binding must be the group name: 1 to 256 characters, no control characters or outer spaces',
    );
  return { kind: 'group', principal: b.principal, role: b.role };
}

export function registerIdentityRoutes(app: FastifyInstance, users: UserStore): void {
  const ownerOnly = (req: Parameters<typeof principalOf>[0], binding: RoleBinding) => {
    if (binding.role === 'owner' && !principalOf(req).roles.includes('owner'))
      throw new TesseraError('TESSERA_PERMISSION_DENIED', 'only an owner may grant or revoke the owner role');
  };

  app.get('/api/v1/me', async (req) => {
    const p = principalOf(req);
    return { ...p, permissions: permissionsOf(p.roles) };
  });

  app.get('/api/v1/users', async (req) => {
    const q = req.query as { limit?: string; after?: string };
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_USERS_PAGE)
      throw new TesseraError(
        'TESSERA_INVALID_ARGUMENT',
        `"limit" must be an integer from 1 to ${MAX_USERS_PAGE}`,
      );
    if (q.after !== undefined && q.after.length > 320)
      throw new TesseraError('TESSERA_INVALID_ARGUMENT', '"after" must be an email address');
    const list = await users.list({ limit, after: q.after });
    return {
      users: list.map((u) => ({
        id: u.id,
        idp: u.idp,
        email: u.email,
        name: u.name,
        groups: u.groups,
        roles: u.roles,
      })),
      nextAfter: list.length === limit ? list.at(-1)!.email : null,
    };
  });

  app.get('/api/v1/role-bindings', async () => ({ roleBindings: await users.bindings() }));

  app.post('/api/v1/role-bindings', async (req, reply) => {
    const binding = parseBinding(req.body);
    ownerOnly(req, binding);
    const created = await users.bind(binding);
    return reply.code(created ? 201 : 200).send(binding);
  });

  app.delete('/api/v1/role-bindings', async (req, reply) => {
    const binding = parseBinding(req.query);
    ownerOnly(req, binding);
    const outcome = await users.unbind(binding);
    if (outcome === 'absent')
      throw new TesseraError(
        'TESSERA_NOT_FOUND',
        `no ${binding.kind} binding of "${binding.principal}" to the role ${binding.role}`,
      );
    if (outcome === 'last_owner')
      throw new TesseraError(
        'TESSERA_CONFLICT',
        'this is the last owner binding; grant the owner role to someone else first',
      );
    return reply.code(204).send();
  });
}
