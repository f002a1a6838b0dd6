/**
 * Admin routes for API keys: create (the key is in this one answer only), list, revoke.
 * Registered inside the admin API's scope, behind its authentication.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { EMAIL, parseApiKeyInput } from '../api-keys/api-key-input.ts';
import type { ApiKeyStore } from '../api-keys/api-key-store.ts';
import type { ApiKeyRow } from '../db/entities/api-key.ts';
import { TesseraError } from '../errors.ts';

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
    const { row, key } = await store.create(parseApiKeyInput(req.body));
    return reply.code(201).send({ ...view(row), key });
  });

  app.get('/api/v1/api-keys', async (req) => {
    const { user } = req.query as { user?: string };
    if (user !== undefined && !EMAIL.test(user))
      throw new TesseraError('TESSERA_INVALID_ARGUMENT', '"user" must be an email address');
    return { apiKeys: (await store.list(user ? { user } : {})).map((k) => view(k)) };
  });

  app.delete('/api/v1/api-keys/:id', async (req) => {
    const { id } = req.params as { id: string };
    return view(await store.revoke(id));
  });
}
