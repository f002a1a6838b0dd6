/**
 * Admin routes for API keys: create (the key is in this one answer only), list, revoke.
 * Registered inside the admin API's scope, behind its authentication. Callers who may manage the
 * catalog handle every key; others (power users) only their own, carrying at most their own groups.
 *
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { EMAIL, parseApiKeyInput } from '../api-keys/api-key-input.ts';
import type { ApiKeyStore } from '../api-keys/api-key-store.ts';
import type { ApiKeyRow } from '../db/entities/api-key.ts';
import { TesseraError } from '../errors.ts';
import { allows } from '../identity/roles.ts';
import { principalOf } from './admin-auth.ts';

/** The email whose keys alone the caller may touch, or undefined when they may touch all. */
function ownOnly(req: FastifyRequest): string | undefined {
  const p = principalOf(req);
  return allows(p.roles, 'manage_catalog') ? undefined : p.email.toLowerCase();
}

function view(k: ApiKeyRow, now = Date.now()) {
  return {
    id: k.id,
    name: k.name,
    user: k.userName,
    groups: k.groups,
    servers: k.servers,
    createdAt: k.createdAt,
    expiresAt: k.expiresAt,
    revokedAt: k.revokedAt,
    lastUsedAt: k.lastUsedAt,
    status: k.revokedAt ? 'revoked' : k.expiresAt.getTime() <= now ? 'expired' : 'active',
  };
}

export function registerApiKeyRoutes(app: FastifyInstance, store: ApiKeyStore): void {
  app.post('/api/v1/api-keys', async (req, reply) => {
    const input = parseApiKeyInput(req.body);
    const own = ownOnly(req);
    if (own !== undefined) {
      const mine = principalOf(req).groups;
      if (input.user.toLowerCase() !== own)
        throw new TesseraError(
          'TESSERA_PERMISSION_DENIED',
          `you may create API keys for yourself (${own}) only`,
        );
      const foreign = input.groups.filter((g) => !mine.includes(g));
      if (foreign.length)
        throw new TesseraError(
          'TESSERA_PERMISSION_DENIED',
          `an API key may carry only your own groups; you are not in ${foreign.map((g) => `"${g}"`).join(', ')}`,
        );
    }
    const { row, key } = await store.create(own === undefined ? input : { ...input, user: own });
    return reply.code(201).send({ ...view(row), key });
  });

  app.get('/api/v1/api-keys', async (req) => {
    const { user } = req.query as { user?: string };
    if (user !== undefined && !EMAIL.test(user))
      throw new TesseraError('TESSERA_INVALID_ARGUMENT', '"user" must be an email address');
    const own = ownOnly(req);
    if (own !== undefined && user !== undefined && user.toLowerCase() !== own)
      throw new TesseraError('TESSERA_PERMISSION_DENIED', `you may list your own API keys (${own}) only`);
    const who = own ?? user;
    return { apiKeys: (await store.list(who ? { user: who } : {})).map((k) => view(k)) };
  });

  app.delete('/api/v1/api-keys/:id', async (req) => {
    const { id } = req.params as { id: string };
    const own = ownOnly(req);
    // Someone else's key is answered like a missing one, so ids of others' keys cannot be probed.
    if (own !== undefined && !(await store.list({ user: own })).some((k) => k.id === id))
      throw new TesseraError('TESSERA_NOT_FOUND', `API key "${id}" does not exist`);
    return view(await store.revoke(id));
  });
}
