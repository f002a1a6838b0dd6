/**
 * Liveness and readiness of the control plane.
 *
 * @module
 */
import type { FastifyPluginAsync } from 'fastify';

export function healthPlugin(ready: () => boolean): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      const ok = ready();
      return reply.code(ok ? 200 : 503).send({ ready: ok });
    });
  };
}
