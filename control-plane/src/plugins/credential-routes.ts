/**
 * Admin routes for static upstream credentials of a server: set (per user or server-wide), list
 * (header names only, never values), remove.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { ServerRegistry } from '../catalog/server-registry.ts';
import { parseHeaderInput } from '../credentials/header-input.ts';
import type { StaticCredentials } from '../credentials/static-credentials.ts';
import type { UpstreamCredentialRow } from '../db/entities/upstream-credential.ts';
import { TesseraError } from '../errors.ts';

const view = (r: UpstreamCredentialRow) => ({
  server: r.server,
  user: r.userName,
  headers: r.headerNames,
  updatedAt: r.updatedAt,
});

export function registerCredentialRoutes(
  app: FastifyInstance,
  options: { registry: ServerRegistry; statics: StaticCredentials },
): void {
  const server = async (name: string) => {
    if (!(await options.registry.get(name)))
      throw new TesseraError('TESSERA_NOT_FOUND', `server "${name}" does not exist`);
    return name;
  };

  app.put('/api/v1/servers/:name/credentials', async (req) => {
    const name = await server((req.params as { name: string }).name);
    return view(await options.statics.set(name, parseHeaderInput(req.body)));
  });

  app.get('/api/v1/servers/:name/credentials', async (req) => {
    const name = await server((req.params as { name: string }).name);
    return { credentials: (await options.statics.list(name)).map(view) };
  });

  app.delete('/api/v1/servers/:name/credentials', async (req, reply) => {
    const name = await server((req.params as { name: string }).name);
    const { user } = req.query as { user?: string };
    await options.statics.remove(name, user ?? '');
    return reply.code(204).send();
  });
}
