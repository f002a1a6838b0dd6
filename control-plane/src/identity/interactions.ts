/**
 * The people-facing side of the authorization server: the login page (local accounts, the
 * enterprise OIDC provider, GitHub), the external-login callbacks, and the per-client consent page.
 *
 * Every page forbids framing and caching; every form carries a CSRF token derived from the
 * interaction and a server key, and the interaction itself is bound to the browser by
 * oidc-provider's cookie. Failed local sign-ins are throttled per account and per IP. External logins keep their state server-side, single use, and bound to the
 * browser by a short-lived cookie (against login CSRF).
 *
 * @module
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import { secretEquals } from '../mesh/mesh-auth.ts';
import type { CookiePolicy } from './cookie-policy.ts';
import { readCookie } from './cookie-policy.ts';
import type { ExternalIdp } from './external-idp.ts';
import { acceptForms, type Form } from './form-body.ts';
import { esc, PAGE_HEADERS, page } from './html-page.ts';
import type { LoginStates } from './login-state.ts';
import type { LoginThrottle } from './login-throttle.ts';
import { MAX_PASSWORD_BYTES } from './password-hash.ts';
import type { User, UserStore } from './user-store.ts';

export interface InteractionOptions {
  provider: Provider;
  issuer: string;
  users: UserStore;
  idps: ExternalIdp[];
  localAccounts: boolean;
  loginStates: LoginStates;
  cookies: CookiePolicy;
  /** Derives CSRF tokens. */
  csrfKey: string;
  /** Failed local sign-ins per account and IP. */
  throttle: LoginThrottle;
}

const STATE_COOKIE = 'tessera_login_state';
const UID = /^[\w-]{10,64}$/;

function send(reply: FastifyReply, status: number, title: string, body: string) {
  return reply.code(status).headers(PAGE_HEADERS).send(page(title, body));
}

export function interactionRoutes(o: InteractionOptions) {
  const csrf = (uid: string) => createHmac('sha256', o.csrfKey).update(`csrf:${uid}`).digest('base64url');
  const callbackUrl = (kind: string) => `${o.issuer}/login/${kind}/callback`;

  async function details(req: FastifyRequest, reply: FastifyReply) {
    try {
      return await o.provider.interactionDetails(req.raw, reply.raw);
    } catch {
      return undefined;
    }
  }

  function checkCsrf(uid: string, form: Form): boolean {
    return typeof form.csrf === 'string' && secretEquals(form.csrf, csrf(uid));
  }

  async function finishLogin(reply: FastifyReply, uid: string, user: User) {
    const interaction = await o.provider.Interaction.find(uid);
    if (!interaction)
      return send(
        reply,
        400,
        'Sign-in expired',
        '<p class="error">This sign-in has expired. Start again from your application.</p>',
      );
    interaction.result = { login: { accountId: user.id } };
    await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
    return reply
      .code(303)
      .header('location', interaction.returnTo)
      .header('cache-control', 'no-store')
      .send();
  }

  function loginPage(uid: string, error?: string): string {
    const parts: string[] = [];
    if (error) parts.push(`<p class="error">${esc(error)}</p>`);
    if (o.localAccounts) {
      parts.push(`<form method="post" action="/interaction/${esc(uid)}/login">
<input type="hidden" name="csrf" value="${esc(csrf(uid))}">
<label>Email <input name="email" type="email" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`);
    }
    for (const idp of o.idps) {
      parts.push(
        `<p><a href="/interaction/${esc(uid)}/idp/${idp.kind}">Sign in with ${esc(idp.label)}</a></p>`,
      );
    }
    if (parts.length === (error ? 1 : 0)) parts.push('<p class="error">No way to sign in is configured.</p>');
    return parts.join('\n');
  }

  return async (app: FastifyInstance) => {
    acceptForms(app);

    app.get('/interaction/:uid', async (req, reply) => {
      const { uid } = req.params as { uid: string };
      const d = UID.test(uid) ? await details(req, reply) : undefined;
      if (!d || d.uid !== uid)
        return send(
          reply,
          400,
          'Sign-in expired',
          '<p class="error">This sign-in has expired or belongs to another browser. Start again from your application.</p>',
        );
      if (d.prompt.name === 'login') return send(reply, 200, 'Sign in', loginPage(uid));
      const client = await o.provider.Client.find(String(d.params.client_id));
      const missing = d.prompt.details as {
        missingOIDCScope?: string[];
        missingResourceScopes?: Record<string, string[]>;
      };
      const resources = Object.entries(missing.missingResourceScopes ?? {})
        .map(([r, s]) => `<li><code>${esc(r)}</code>: ${esc(s.join(' '))}</li>`)
        .join('');
      const body = `<p><strong>${esc(client?.clientName ?? d.params.client_id)}</strong> wants to act as you.</p>
<p>Client ID: <code>${esc(d.params.client_id)}</code><br>It will be sent back to: <code>${esc(d.params.redirect_uri)}</code></p>
<p>Access to MCP servers:</p><ul>${resources || '<li>none</li>'}</ul>
<p>Profile scopes: ${esc((missing.missingOIDCScope ?? []).join(' ') || 'none')}</p>
<form method="post" action="/interaction/${esc(uid)}/consent">
<input type="hidden" name="csrf" value="${esc(csrf(uid))}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny">Deny</button></form>`;
      return send(reply, 200, 'Allow access?', body);
    });

    app.post('/interaction/:uid/login', async (req, reply) => {
      const { uid } = req.params as { uid: string };
      const form = (req.body ?? {}) as Form;
      const d = UID.test(uid) ? await details(req, reply) : undefined;
      if (!d || d.uid !== uid || d.prompt.name !== 'login')
        return send(reply, 400, 'Sign-in expired', '<p class="error">This sign-in has expired.</p>');
      if (!checkCsrf(uid, form))
        return send(reply, 403, 'Sign in', loginPage(uid, 'The form was not valid; try again.'));
      if (!o.localAccounts)
        return send(reply, 404, 'Sign in', loginPage(uid, 'Local accounts are disabled.'));
      const email = typeof form.email === 'string' ? form.email.trim() : '';
      const password = typeof form.password === 'string' ? form.password : '';
      if (!email || !password || email.length > 320 || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) {
        return send(reply, 400, 'Sign in', loginPage(uid, 'Enter an email and a password.'));
      }
      // Keyed by the email as typed, known or not: being throttled says nothing about who exists.
      if (!o.throttle.allowed(email, req.ip))
        return send(
          reply,
          429,
          'Sign in',
          loginPage(uid, 'Too many failed sign-ins. Wait a few minutes and try again.'),
        );
      const user = await o.users.verifyLocal(email, password);
      if (!user) {
        o.throttle.failed(email, req.ip);
        return send(reply, 401, 'Sign in', loginPage(uid, 'Wrong email or password.'));
      }
      o.throttle.succeeded(email);
      return finishLogin(reply, uid, user);
    });

    app.get('/interaction/:uid/idp/:kind', async (req, reply) => {
      const { uid, kind } = req.params as { uid: string; kind: string };
      const idp = o.idps.find((i) => i.kind === kind);
      const d = UID.test(uid) ? await details(req, reply) : undefined;
      if (!d || d.uid !== uid || !idp)
        return send(reply, 400, 'Sign-in expired', '<p class="error">This sign-in has expired.</p>');
      const state = randomBytes(32).toString('base64url');
      const pending = {
        codeVerifier: randomBytes(32).toString('base64url'),
        nonce: randomBytes(16).toString('base64url'),
      };
      await o.loginStates.put(state, { ...pending, uid, idp: idp.kind });
      const url = await idp.authorizationUrl(state, pending, callbackUrl(idp.kind));
      return reply
        .code(303)
        .header('set-cookie', o.cookies.serialize(STATE_COOKIE, state, 600))
        .header('cache-control', 'no-store')
        .header('location', url.href)
        .send();
    });

    app.get('/login/:kind/callback', async (req, reply) => {
      const { kind } = req.params as { kind: string };
      const idp = o.idps.find((i) => i.kind === kind);
      const url = new URL(req.url, o.issuer);
      const state = url.searchParams.get('state') ?? '';
      const bound = readCookie(req.headers.cookie, o.cookies.name(STATE_COOKIE));
      reply.header('set-cookie', o.cookies.serialize(STATE_COOKIE, '', 0));
      if (!idp) return send(reply, 404, 'Sign-in failed', '<p class="error">Unknown identity provider.</p>');
      // The state must be the one this browser started, and is good for one callback only.
      if (!state || !bound || !secretEquals(state, bound)) {
        return send(
          reply,
          400,
          'Sign-in failed',
          '<p class="error">This sign-in response does not belong to this browser.</p>',
        );
      }
      const attempt = await o.loginStates.take(state);
      if (!attempt || attempt.idp !== idp.kind) {
        return send(
          reply,
          400,
          'Sign-in failed',
          '<p class="error">This sign-in response was already used or has expired.</p>',
        );
      }
      let user: User;
      try {
        user = await o.users.upsertExternal(await idp.finish(url, state, attempt, callbackUrl(idp.kind)));
      } catch (err) {
        req.log.warn({ idp: idp.kind, error: (err as Error).message }, 'external sign-in failed');
        return send(reply, 401, 'Sign-in failed', `<p class="error">${esc((err as Error).message)}</p>`);
      }
      return finishLogin(reply, attempt.uid, user);
    });

    app.post('/interaction/:uid/consent', async (req, reply) => {
      const { uid } = req.params as { uid: string };
      const form = (req.body ?? {}) as Form;
      const d = UID.test(uid) ? await details(req, reply) : undefined;
      if (!d || d.uid !== uid || d.prompt.name !== 'consent' || !d.session?.accountId) {
        return send(reply, 400, 'Consent expired', '<p class="error">This request has expired.</p>');
      }
      if (!checkCsrf(uid, form))
        return send(reply, 403, 'Consent refused', '<p class="error">The form was not valid.</p>');
      let result: Parameters<Provider['interactionResult']>[2];
      if (form.decision !== 'allow') {
        result = { error: 'access_denied', error_description: 'the user denied access' };
      } else {
        const clientId = String(d.params.client_id);
        const grant = d.grantId
          ? await o.provider.Grant.find(d.grantId)
          : new o.provider.Grant({ accountId: d.session.accountId, clientId });
        if (!grant)
          return send(reply, 400, 'Consent expired', '<p class="error">This request has expired.</p>');
        const missing = d.prompt.details as {
          missingOIDCScope?: string[];
          missingOIDCClaims?: string[];
          missingResourceScopes?: Record<string, string[]>;
        };
        if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
        if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
        for (const [resource, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
          grant.addResourceScope(resource, scopes.join(' '));
        }
        result = { consent: { grantId: await grant.save() } };
      }
      const returnTo = await o.provider.interactionResult(req.raw, reply.raw, result, {
        mergeWithLastSubmission: true,
      });
      return reply.code(303).header('location', returnTo).header('cache-control', 'no-store').send();
    });
  };
}
