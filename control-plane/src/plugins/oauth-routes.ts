/**
 * Admin routes that turn the OAuth client flow on or off for a server (the client secret is
 * sealed and never shown again) and show its settings.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { ServerRegistry } from '../catalog/server-registry.ts';
import { parseOAuthInput } from '../credentials/oauth/oauth-input.ts';
import type { OAuthServerConfig, OAuthStore } from '../credentials/oauth/oauth-store.ts';
import { TesseraError } from '../errors.ts';

const view = (c: OAuthServerConfig) => ({
  server: c.server,
  url: c.mcpUrl,
  scopes: c.scopes,
  clientId: c.staticClientId ?? null,
  clientSecretSet: c.hasStaticClientSecret,
  registeredAt: c.registeredAt ?? null,
  updatedAt: c.updatedAt,
});

export function registerOAuthRoutes(
  app: FastifyInstance,
  options: { registry: ServerRegistry; store: OAuthStore },
): void {
  app.put('/api/v1/servers/:name/oauth', async (req) => {
    const { name } = req.params as { name: string };
    const input = parseOAuthInput(req.body);
    const server = await options.registry.get(name);
    if (!server) throw new TesseraError('TESSERA_NOT_FOUND', `server "${name}" does not exist`);
    const mcpUrl = input.mcpUrl ?? server.url;
    if (!mcpUrl)
      throw new TesseraError('TESSERA_INVALID_ARGUMENT', `server "${name}" has no URL; give "url"`);
    return view(await options.store.configure(name, { ...input, mcpUrl }));
  });

  app.get('/api/v1/servers/:name/oauth', async (req) => {
    const { name } = req.params as { name: string };
    const config = await options.store.config(name);
    if (!config) throw new TesseraError('TESSERA_NOT_FOUND', `server "${name}" does not use OAuth`);
    return view(config);
  });

  app.delete('/api/v1/servers/:name/oauth', async (req, reply) => {
    const { name } = req.params as { name: string };
    if (!(await options.store.remove(name)))
      throw new TesseraError('TESSERA_NOT_FOUND', `server "${name}" does not use OAuth`);
    return reply.code(204).send();
  });
}
