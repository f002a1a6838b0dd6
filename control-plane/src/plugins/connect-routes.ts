/**
 * Public routes of the OAuth client flow, reached by end users' browsers (not by the admin): the
 * connect link, the authorization server's callback, disconnecting, and the control plane's client
 * ID metadata document. Answers are short plain pages; errors never echo tokens or codes.
 *
 * A connect link only names a user; it does not prove who opens it (links travel through MCP
 * clients, logs and chat). So every step needs the browser to be signed in at Tessera as that very
 * user: without a session the browser signs in first and comes back, with another user's session
 * the answer is 403 and nothing is stored.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SERVER_NAME } from '../catalog/server-input.ts';
import { clientMetadata } from '../credentials/oauth/client-registration.ts';
import type { OAuthFlow } from '../credentials/oauth/oauth-flow.ts';
import { TesseraError } from '../errors.ts';
import type { User } from '../identity/user-store.ts';
import { signInUrl } from './sign-in-routes.ts';

const page = (reply: FastifyReply, status: number, text: string) =>
  reply
    .code(status)
    .header('content-type', 'text/plain; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('referrer-policy', 'no-referrer')
    .send(text);

export interface ConnectRoutesOptions {
  flow: OAuthFlow;
  publicUrl: string;
  /** The user of the browser session the request carries, if any. */
  signedIn(req: IncomingMessage, res: ServerResponse): Promise<User | undefined>;
}

/** Links name the user as the proxy does: the email claim, else the subject (the user id). */
const isUser = (me: User, named: string) => me.id === named || me.email.toLowerCase() === named.toLowerCase();

const notYou = (named: string, me: User) =>
  new TesseraError(
    'TESSERA_PERMISSION_DENIED',
    `This connect link is for ${named}, but this browser is signed in as ${me.email}. Nothing was connected. Sign out, then open the link again and sign in as ${named}.`,
  );

export function connectRoutesPlugin(options: ConnectRoutesOptions) {
  const publicOrigin = new URL(options.publicUrl).origin;
  return async (app: FastifyInstance) => {
    app.setErrorHandler((err, _req, reply) => {
      if (err instanceof TesseraError) return page(reply, err.httpStatus, `${err.message}\n`);
      app.log.error(err);
      return page(reply, 500, 'internal error\n');
    });

    const serverParam = (params: unknown): string => {
      const { server } = params as { server: string };
      if (!SERVER_NAME.test(server))
        throw new TesseraError('TESSERA_INVALID_ARGUMENT', 'no such server name');
      return server;
    };

    app.get('/api/v1/connect/client-metadata.json', async () => clientMetadata(options.publicUrl));

    app.get('/api/v1/connect/callback', async (req, reply) => {
      const me = await options.signedIn(req.raw, reply.raw);
      // Checked before the state is taken, so that signing in and reloading still works.
      if (!me)
        throw new TesseraError(
          'TESSERA_UNAUTHENTICATED',
          'this browser is not signed in at Tessera; open the connect link again',
        );
      const query = new URLSearchParams(req.query as Record<string, string>);
      const { server, user } = await options.flow.complete(query, (u) => isUser(me, u));
      return page(reply, 200, `Connected ${server} for ${user}. You can close this window.\n`);
    });

    app.get('/api/v1/connect/:server', async (req, reply) => {
      const { server } = req.params as { server: string };
      const { t } = req.query as { t?: string };
      if (!SERVER_NAME.test(server) || typeof t !== 'string' || t.length > 4096)
        throw new TesseraError('TESSERA_INVALID_ARGUMENT', 'this is not a connect link');
      const named = await options.flow.linkUser(server, t);
      const me = await options.signedIn(req.raw, reply.raw);
      reply.header('cache-control', 'no-store').header('referrer-policy', 'no-referrer');
      if (!me) {
        const back = `/api/v1/connect/${encodeURIComponent(server)}?t=${encodeURIComponent(t)}`;
        return reply.redirect(signInUrl(options.publicUrl, back), 303);
      }
      if (!isUser(me, named)) throw notYou(named, me);
      return reply.redirect(await options.flow.begin(server, t), 302);
    });

    app.delete('/api/v1/connect/:server', async (req, reply) => {
      const server = serverParam(req.params);
      const me = await options.signedIn(req.raw, reply.raw);
      if (!me)
        throw new TesseraError('TESSERA_UNAUTHENTICATED', 'sign in at Tessera to disconnect an account');
      // The session is a cookie: a change must come from the control plane's own pages (CSRF).
      if (req.headers.origin !== publicOrigin)
        throw new TesseraError(
          'TESSERA_PERMISSION_DENIED',
          `disconnecting must come from ${publicOrigin} (Origin header)`,
        );
      const done = await options.flow.disconnect(server, me.email);
      if (!done)
        throw new TesseraError('TESSERA_NOT_FOUND', `${me.email} has no account connected at "${server}"`);
      return reply
        .header('cache-control', 'no-store')
        .send({ server, user: me.email, revocation: done.revocation });
    });
  };
}
