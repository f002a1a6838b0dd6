/**
 * The page behind a local account's one-time setup link: `GET /account/setup?token=…` shows a
 * form for the first password, `POST /account/setup` sets it and spends the token. The form
 * carries a CSRF token derived from the setup token and a server key; the page forbids framing,
 * caching and referrers, and these routes log only warnings, so the token stays out of request logs.
 *
 * @module
 */
import { createHmac } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { secretEquals } from '../mesh/mesh-auth.ts';
import { acceptForms, type Form } from './form-body.ts';
import { esc, PAGE_HEADERS, page } from './html-page.ts';
import type { LocalAccounts } from './local-accounts.ts';
import { passwordProblem } from './password-policy.ts';

export interface SetupPageOptions {
  accounts: LocalAccounts;
  /** Derives CSRF tokens. */
  csrfKey: string;
}

const TITLE = 'Set your password';
const INVALID =
  '<p class="error">This link is not valid: it was used already, has expired, or was mistyped. Ask an administrator for a new account link.</p>';

function send(reply: FastifyReply, status: number, body: string) {
  return reply.code(status).headers(PAGE_HEADERS).send(page(TITLE, body));
}

export function setupPageRoutes(o: SetupPageOptions) {
  const csrf = (token: string) =>
    createHmac('sha256', o.csrfKey).update(`setup:${token}`).digest('base64url');

  const form = (token: string, email: string, error?: string) =>
    `${error ? `<p class="error">${esc(error)}</p>` : ''}
<p>Choose a password for <strong>${esc(email)}</strong>: at least 12 characters, not your email address.</p>
<form method="post" action="/account/setup">
<input type="hidden" name="token" value="${esc(token)}">
<input type="hidden" name="csrf" value="${esc(csrf(token))}">
<input type="hidden" name="username" value="${esc(email)}" autocomplete="username">
<label>Password <input name="password" type="password" autocomplete="new-password" required></label>
<label>Again <input name="confirm" type="password" autocomplete="new-password" required></label>
<button type="submit">Set password</button></form>`;

  return async (app: FastifyInstance) => {
    acceptForms(app);

    app.get('/account/setup', { logLevel: 'warn' }, async (req, reply) => {
      const token = (req.query as Record<string, unknown>).token;
      const email = typeof token === 'string' ? await o.accounts.setupEmail(token) : undefined;
      if (!email) return send(reply, 400, INVALID);
      return send(reply, 200, form(token as string, email));
    });

    app.post('/account/setup', { logLevel: 'warn' }, async (req, reply) => {
      const f = (req.body ?? {}) as Form;
      const token = typeof f.token === 'string' ? f.token : '';
      if (!token || typeof f.csrf !== 'string' || !secretEquals(f.csrf, csrf(token)))
        return send(reply, 403, '<p class="error">The form was not valid; open the link again.</p>');
      const email = await o.accounts.setupEmail(token);
      if (!email) return send(reply, 400, INVALID);
      const problem =
        f.password !== f.confirm ? 'the two passwords differ' : passwordProblem(f.password, email);
      if (problem) return send(reply, 400, form(token, email, `Not set: ${problem}.`));
      if (!(await o.accounts.completeSetup(token, f.password!))) return send(reply, 400, INVALID);
      return send(
        reply,
        200,
        `<p>Your password is set. Sign in as <strong>${esc(email)}</strong> from your application or the console.</p>`,
      );
    });
  };
}
