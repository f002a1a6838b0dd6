/**
 * A sign-in that comes back to where it started: `GET /login?return_to=<path>` sends the browser
 * through an authorization request of the control plane's own client (login page, no consent), and
 * `GET /login/return` sends it on to the path once the session cookie is set. The code the
 * authorization server hands back is never redeemed: the signed-in session is all this is for.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { SIGN_IN_CLIENT_ID, signInRedirectUri } from '../identity/authorization-server.ts';
import { esc, PAGE_HEADERS, page } from '../identity/html-page.ts';
import { sameOriginReturn } from '../identity/return-to.ts';

/** The sign-in URL that brings the browser back to `returnTo` (a path on the control plane). */
export const signInUrl = (publicUrl: string, returnTo: string): string =>
  `${publicUrl}/login?return_to=${encodeURIComponent(returnTo)}`;

export function signInRoutesPlugin(options: { publicUrl: string }) {
  const { publicUrl } = options;
  return async (app: FastifyInstance) => {
    const refuse = (reply: FastifyReply, status: number, text: string) =>
      reply
        .code(status)
        .headers(PAGE_HEADERS)
        .send(page('Sign-in failed', `<p class="error">${esc(text)}</p>`));

    app.get('/login', async (req, reply) => {
      const returnTo = sameOriginReturn((req.query as Record<string, unknown>).return_to, publicUrl);
      if (!returnTo) return refuse(reply, 400, '"return_to" must be a path on this server.');
      const url = new URL(`${publicUrl}/oauth/authorize`);
      url.searchParams.set('client_id', SIGN_IN_CLIENT_ID);
      url.searchParams.set('redirect_uri', signInRedirectUri(publicUrl));
      url.searchParams.set('response_type', 'code');
      url.searchParams.set('scope', 'openid');
      // PKCE is mandatory at this server; the verifier is dropped because the code is never redeemed.
      const verifier = randomBytes(32).toString('base64url');
      url.searchParams.set('code_challenge', createHash('sha256').update(verifier).digest('base64url'));
      url.searchParams.set('code_challenge_method', 'S256');
      const back = new URL(returnTo);
      url.searchParams.set('state', back.pathname + back.search);
      return reply.header('cache-control', 'no-store').redirect(url.href, 303);
    });

    app.get('/login/return', async (req, reply) => {
      const q = req.query as Record<string, unknown>;
      // The state is where to go, checked again: anyone can craft this request.
      const returnTo = sameOriginReturn(q.state, publicUrl);
      if (typeof q.error === 'string' || !returnTo) {
        const why =
          typeof q.error === 'string'
            ? `the sign-in ended with "${q.error}".`
            : 'the return address is not valid.';
        return refuse(reply, typeof q.error === 'string' ? 401 : 400, `Not signed in: ${why}`);
      }
      return reply
        .header('cache-control', 'no-store')
        .header('referrer-policy', 'no-referrer')
        .redirect(returnTo, 303);
    });
  };
}
