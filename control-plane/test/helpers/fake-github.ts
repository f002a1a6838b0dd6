/**
 * A stand-in for GitHub's OAuth web flow and REST API, for login tests: GitHub is a remote third
 * party that cannot run here. It follows GitHub's documentation, including how it fails:
 * - `GET /login/oauth/authorize` signs in the configured person at once (as after they clicked
 *   "Authorize"), or sends `error=access_denied` back when they refuse; an unknown client or a
 *   redirect URI other than the registered one gets no redirect at all;
 * - `POST /login/oauth/access_token` answers errors with HTTP 200 and an `error` field
 *   (`incorrect_client_credentials`, `redirect_uri_mismatch`, `bad_verification_code` for an
 *   unknown, used or expired code or a PKCE verifier that does not match); codes are single use;
 * - `GET /user`, `/user/emails`, `/user/orgs`, `/user/teams` need `Authorization: Bearer|token`,
 *   answer 401 `Bad credentials` otherwise, and 403 `API rate limit exceeded` with
 *   `x-ratelimit-remaining: 0` when the limit is switched on.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GithubPerson {
  id: number;
  login: string;
  name: string | null;
  emails: Array<{ email: string; primary: boolean; verified: boolean }>;
  orgs: string[];
  teams: Array<{ org: string; slug: string }>;
}

export interface FakeGithub {
  url: string;
  /** Who signs in at the next authorization, or "deny" when the person refuses. */
  person: GithubPerson | 'deny';
  /** When true the REST API answers as GitHub does once the rate limit is used up. */
  rateLimited: boolean;
  /** Paths of every API request, in order. */
  apiCalls: string[];
  close(): Promise<void>;
}

const DOCS = 'https://docs.github.com/rest';

export async function startFakeGithub(o: {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}): Promise<FakeGithub> {
  const codes = new Map<
    string,
    { person: GithubPerson; challenge: string; redirectUri: string; exp: number }
  >();
  const tokens = new Map<string, GithubPerson>();

  function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
    res.end(JSON.stringify(body));
  }

  async function form(req: IncomingMessage): Promise<URLSearchParams> {
    let text = '';
    for await (const chunk of req) text += chunk;
    if ((req.headers['content-type'] ?? '').startsWith('application/json'))
      return new URLSearchParams(JSON.parse(text) as Record<string, string>);
    return new URLSearchParams(text);
  }

  function authorize(url: URL, res: ServerResponse) {
    const q = url.searchParams;
    if (q.get('client_id') !== o.clientId) {
      res.writeHead(404, { 'content-type': 'text/html' }).end('<h1>404</h1>');
      return;
    }
    const redirectUri = q.get('redirect_uri') ?? o.redirectUri;
    if (redirectUri !== o.redirectUri) {
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<p>The redirect_uri is not associated with this application.</p>');
      return;
    }
    const back = new URL(redirectUri);
    if (q.get('state')) back.searchParams.set('state', q.get('state')!);
    if (fake.person === 'deny') {
      back.searchParams.set('error', 'access_denied');
      back.searchParams.set('error_description', 'The user has denied your application access.');
      back.searchParams.set('error_uri', 'https://docs.github.com/apps/troubleshooting');
    } else {
      const code = randomBytes(10).toString('hex');
      codes.set(code, {
        person: fake.person,
        challenge: q.get('code_challenge_method') === 'S256' ? (q.get('code_challenge') ?? '') : '',
        redirectUri,
        exp: Date.now() + 10 * 60_000,
      });
      back.searchParams.set('code', code);
    }
    res.writeHead(302, { location: back.href }).end();
  }

  async function accessToken(req: IncomingMessage, res: ServerResponse) {
    const f = await form(req);
    const fail = (error: string, description: string) =>
      json(res, 200, { error, error_description: description, error_uri: `${DOCS}/oauth` });
    if (f.get('client_id') !== o.clientId || f.get('client_secret') !== o.clientSecret)
      return fail('incorrect_client_credentials', 'The client_id and/or client_secret passed are incorrect.');
    const code = f.get('code') ?? '';
    const grant = codes.get(code);
    codes.delete(code);
    if (f.get('redirect_uri') && grant && f.get('redirect_uri') !== grant.redirectUri)
      return fail(
        'redirect_uri_mismatch',
        'The redirect_uri MUST match the registered callback URL for this application.',
      );
    const verifier = f.get('code_verifier') ?? '';
    const pkceOk =
      !grant?.challenge || createHash('sha256').update(verifier).digest('base64url') === grant.challenge;
    if (!grant || grant.exp < Date.now() || !pkceOk)
      return fail('bad_verification_code', 'The code passed is incorrect or expired.');
    const token = `gho_${randomBytes(18).toString('base64url')}`;
    tokens.set(token, grant.person);
    json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:org,read:user,user:email' });
  }

  function api(path: string, req: IncomingMessage, res: ServerResponse) {
    fake.apiCalls.push(path);
    if (fake.rateLimited) {
      return json(
        res,
        403,
        {
          message: 'API rate limit exceeded for user ID 1.',
          documentation_url: `${DOCS}/overview/rate-limits-for-the-rest-api`,
        },
        {
          'x-ratelimit-limit': '5000',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
        },
      );
    }
    const m = /^(?:Bearer|token) (\S+)$/i.exec(req.headers.authorization ?? '');
    const person = m ? tokens.get(m[1]!) : undefined;
    if (!person) return json(res, 401, { message: 'Bad credentials', documentation_url: DOCS });
    switch (path) {
      case '/user':
        return json(res, 200, {
          login: person.login,
          id: person.id,
          type: 'User',
          name: person.name,
          email: null,
        });
      case '/user/emails':
        return json(
          res,
          200,
          person.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })),
        );
      case '/user/orgs':
        return json(
          res,
          200,
          person.orgs.map((login, i) => ({ login, id: 1000 + i })),
        );
      case '/user/teams':
        return json(
          res,
          200,
          person.teams.map((t, i) => ({
            slug: t.slug,
            name: t.slug,
            id: 2000 + i,
            organization: { login: t.org },
          })),
        );
      default:
        return json(res, 404, { message: 'Not Found', documentation_url: DOCS });
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://github.test');
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') return authorize(url, res);
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      accessToken(req, res).catch(() => json(res, 400, { error: 'bad request' }));
      return;
    }
    if (req.method === 'GET' && url.pathname.startsWith('/user')) return api(url.pathname, req, res);
    json(res, 404, { message: 'Not Found', documentation_url: DOCS });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const fake: FakeGithub = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    person: 'deny',
    rateLimited: false,
    apiCalls: [],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return fake;
}
