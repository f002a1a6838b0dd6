/**
 * Public routes of the OAuth client flow, reached by end users' browsers (not by the admin): the
 * connect link, the authorization server's callback, and the control plane's client ID metadata
 * document. Answers are short plain pages; errors never echo tokens or codes.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SERVER_NAME } from '../catalog/server-input.ts';
import { clientMetadata } from '../credentials/oauth/client-registration.ts';
import type { OAuthFlow } from '../credentials/oauth/oauth-flow.ts';
import { TesseraError } from '../errors.ts';

const page = (reply: FastifyReply, status: number, text: string) =>
  reply
    .code(status)
    .header('content-type', 'text/plain; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .send(text);

export function connectRoutesPlugin(options: { flow: OAuthFlow; publicUrl: string }) {
  return async (app: FastifyInstance) => {
    app.setErrorHandler((err, _req, reply) => {
      if (err instanceof TesseraError) return page(reply, err.httpStatus, `${err.message}\n`);
      app.log.error(err);
      return page(reply, 500, 'internal error\n');
    });

    app.get('/api/v1/connect/client-metadata.json', async () => clientMetadata(options.publicUrl));

    app.get('/api/v1/connect/callback', async (req, reply) => {
      const query = new URLSearchParams(req.query as Record<string, string>);
      const { server, user } = await options.flow.complete(query);
      return page(reply, 200, `Connected ${server} for ${user}. You can close this window.\n`);
    });

    app.get('/api/v1/connect/:server', async (req, reply) => {
      const { server } = req.params as { server: string };
      const { t } = req.query as { t?: string };
      if (!SERVER_NAME.test(server) || typeof t !== 'string' || t.length > 4096)
        throw new TesseraError('TESSERA_INVALID_ARGUMENT', 'this is not a connect link');
      return reply.header('cache-control', 'no-store').redirect(await options.flow.begin(server, t), 302);
    });
  };
}
