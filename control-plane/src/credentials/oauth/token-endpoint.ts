/**
 * Calls to an authorization server's token endpoint: the authorization code exchange (with the
 * PKCE verifier and RFC 8707 `resource`) and the refresh, and the validation of its answer.
 *
 * @module
 */
import { TesseraError } from '../../errors.ts';
import type { ClientCredentials } from './oauth-store.ts';
import type { OutboundFetch } from './outbound-fetch.ts';

export interface TokenResponse {
  accessToken: string;
  refreshToken?: string;
  expiresAt?: Date;
}

/** The token endpoint refused the grant (RFC 6749 §5.2), as opposed to being unreachable. */
export class GrantRefusedError extends TesseraError {
  readonly oauthError: string;
  constructor(oauthError: string) {
    super('TESSERA_UPSTREAM_OAUTH', `the token endpoint refused the grant: ${oauthError}`);
    this.oauthError = oauthError;
  }
}

/** An RFC 6749 error answer as short printable text (it is shown to administrators and users). */
export function oauthErrorText(body: Record<string, unknown>, status: number): string {
  const clean = (v: unknown, max: number) =>
    typeof v === 'string' ? v.replace(/[^\x20-\x7e]/g, '').slice(0, max) : '';
  const error = clean(body.error, 64) || `HTTP ${status}`;
  const description = clean(body.error_description, 200);
  return description ? `${error} (${description})` : error;
}

const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');

/** A form POST to one of the authorization server's endpoints, authenticated as `client`. */
export function clientRequest(
  client: ClientCredentials,
  form: Record<string, string>,
): { headers: Record<string, string>; params: URLSearchParams } {
  const params = new URLSearchParams(form);
  const headers: Record<string, string> = {
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  if (client.authMethod === 'client_secret_basic') {
    // RFC 6749 §2.3.1: both parts form-encoded before base64.
    const pair = `${formEncode(client.clientId)}:${formEncode(client.clientSecret ?? '')}`;
    headers.authorization = `Basic ${Buffer.from(pair).toString('base64')}`;
  } else {
    params.set('client_id', client.clientId);
    if (client.authMethod === 'client_secret_post') params.set('client_secret', client.clientSecret ?? '');
  }
  return { headers, params };
}

export async function callTokenEndpoint(
  fetcher: OutboundFetch,
  request: {
    tokenEndpoint: string;
    client: ClientCredentials;
    params: Record<string, string>;
    now?: Date;
  },
): Promise<TokenResponse> {
  const { headers, params } = clientRequest(request.client, request.params);
  const res = await fetcher.send(request.tokenEndpoint, {
    method: 'POST',
    headers,
    body: params.toString(),
  });
  const body = res.json();
  if (res.status !== 200) {
    throw new GrantRefusedError(oauthErrorText(body, res.status));
  }
  if (typeof body.access_token !== 'string' || body.access_token.length === 0)
    throw new TesseraError('TESSERA_UPSTREAM_OAUTH', 'the token endpoint answered no access_token');
  if (typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== 'bearer')
    throw new TesseraError('TESSERA_UPSTREAM_OAUTH', 'the token endpoint answered a non-Bearer token');
  const expiresIn = body.expires_in;
  const now = request.now ?? new Date();
  return {
    accessToken: body.access_token,
    refreshToken: typeof body.refresh_token === 'string' ? body.refresh_token : undefined,
    expiresAt:
      typeof expiresIn === 'number' && expiresIn > 0 ? new Date(now.getTime() + expiresIn * 1000) : undefined,
  };
}
