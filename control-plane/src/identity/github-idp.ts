/**
 * Login with GitHub (OAuth, not OIDC): the web application flow with PKCE, then the REST API for the
 * person's verified primary email and their teams and organisations as groups (`org` and
 * `org/team`). `githubUrl`/`apiUrl` point at GitHub Enterprise Server when set.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { request } from 'undici';
import type { ExternalIdp } from './external-idp.ts';

export interface GithubIdpOptions {
  clientId: string;
  clientSecret: string;
  githubUrl: string;
  apiUrl: string;
}

const MAX_BODY = 1024 * 1024;

async function readJson(res: Awaited<ReturnType<typeof request>>, what: string): Promise<unknown> {
  const text = await res.body.text();
  if (text.length > MAX_BODY) throw new Error(`GitHub's ${what} answer is too large`);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`GitHub's ${what} answer is not JSON (HTTP ${res.statusCode})`);
  }
}

export function createGithubIdp(o: GithubIdpOptions): ExternalIdp {
  async function api(path: string, token: string): Promise<unknown> {
    const res = await request(`${o.apiUrl}${path}`, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/vnd.github+json',
        'user-agent': 'tessera',
        'x-github-api-version': '2022-11-28',
      },
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
    });
    const body = await readJson(res, path);
    if (res.statusCode !== 200) {
      const message = (body as { message?: unknown }).message;
      throw new Error(
        `GitHub refused ${path}: HTTP ${res.statusCode} ${typeof message === 'string' ? message : ''}`.trim(),
      );
    }
    return body;
  }
  return {
    kind: 'github',
    label: 'GitHub',
    async authorizationUrl(state, pending, redirectUri) {
      const url = new URL('/login/oauth/authorize', o.githubUrl);
      url.searchParams.set('client_id', o.clientId);
      url.searchParams.set('redirect_uri', redirectUri);
      url.searchParams.set('scope', 'read:user user:email read:org');
      url.searchParams.set('state', state);
      url.searchParams.set(
        'code_challenge',
        createHash('sha256').update(pending.codeVerifier).digest('base64url'),
      );
      url.searchParams.set('code_challenge_method', 'S256');
      url.searchParams.set('allow_signup', 'false');
      return url;
    },
    async finish(callbackUrl, state, pending, redirectUri) {
      const q = callbackUrl.searchParams;
      if (q.get('error')) throw new Error(`GitHub refused the sign-in: ${q.get('error')}`);
      if (q.get('state') !== state) throw new Error('the state does not match this sign-in');
      const code = q.get('code');
      if (!code) throw new Error('GitHub sent no authorization code');
      const res = await request(new URL('/login/oauth/access_token', o.githubUrl), {
        method: 'POST',
        headers: { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          client_id: o.clientId,
          client_secret: o.clientSecret,
          code,
          redirect_uri: redirectUri,
          code_verifier: pending.codeVerifier,
        }).toString(),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      // GitHub answers token errors with HTTP 200 and an "error" field.
      const token = (await readJson(res, 'token')) as { access_token?: unknown; error?: unknown };
      if (res.statusCode !== 200 || typeof token.access_token !== 'string') {
        throw new Error(
          `GitHub refused the code: ${typeof token.error === 'string' ? token.error : `HTTP ${res.statusCode}`}`,
        );
      }
      const user = (await api('/user', token.access_token)) as {
        id?: unknown;
        login?: unknown;
        name?: unknown;
      };
      if (typeof user.id !== 'number' || typeof user.login !== 'string')
        throw new Error('GitHub sent no user id');
      const emails = (await api('/user/emails', token.access_token)) as {
        email: string;
        primary: boolean;
        verified: boolean;
      }[];
      const primary = Array.isArray(emails) ? emails.find((e) => e?.primary && e.verified) : undefined;
      if (!primary || typeof primary.email !== 'string')
        throw new Error('this GitHub account has no verified primary email');
      const orgs = (await api('/user/orgs', token.access_token)) as { login?: unknown }[];
      const teams = (await api('/user/teams', token.access_token)) as {
        slug?: unknown;
        organization?: { login?: unknown };
      }[];
      const groups = [
        ...(Array.isArray(orgs) ? orgs : []).flatMap((g) => (typeof g?.login === 'string' ? [g.login] : [])),
        ...(Array.isArray(teams) ? teams : []).flatMap((t) =>
          typeof t?.slug === 'string' && typeof t.organization?.login === 'string'
            ? [`${t.organization.login}/${t.slug}`]
            : [],
        ),
      ];
      return {
        idp: 'github',
        subject: String(user.id),
        email: primary.email,
        name: typeof user.name === 'string' ? user.name : user.login,
        groups,
      };
    },
  };
}
