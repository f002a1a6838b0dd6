/**
 * Which client id the control plane uses at an authorization server, in the order the MCP
 * specification (2025-11-25, "Client Registration Approaches") recommends: credentials an
 * administrator pre-registered, else the control plane's client ID metadata document when the
 * server supports it, else RFC 7591 dynamic registration (kept sealed and reused), else none.
 *
 * @module
 */
import { TesseraError } from '../../errors.ts';
import type { AuthorizationTarget } from './discover.ts';
import type { ClientCredentials, OAuthStore } from './oauth-store.ts';
import type { OutboundFetch } from './outbound-fetch.ts';
import { oauthErrorText } from './token-endpoint.ts';

/** The control plane's own client metadata (served as its client ID metadata document, sent to registration). */
export function clientMetadata(publicUrl: string) {
  return {
    client_id: clientMetadataDocumentUrl(publicUrl),
    client_name: 'Tessera',
    client_uri: publicUrl,
    redirect_uris: [redirectUri(publicUrl)],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
  };
}

export const clientMetadataDocumentUrl = (publicUrl: string) =>
  `${publicUrl}/api/v1/connect/client-metadata.json`;
export const redirectUri = (publicUrl: string) => `${publicUrl}/api/v1/connect/callback`;

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;

async function register(
  fetcher: OutboundFetch,
  endpoint: string,
  publicUrl: string,
): Promise<ClientCredentials> {
  const { client_id: _ignored, ...metadata } = clientMetadata(publicUrl);
  const res = await fetcher.send(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    // A confidential client: the control plane keeps the secret, sealed. No `scope`: servers check
    // it against their own scope list, which often lacks the resource's scopes.
    body: JSON.stringify({ ...metadata, token_endpoint_auth_method: 'client_secret_basic' }),
  });
  const body = res.json();
  if (res.status !== 201 && res.status !== 200)
    throw new TesseraError(
      'TESSERA_UPSTREAM_OAUTH',
      `dynamic client registration failed: ${oauthErrorText(body, res.status)}`,
    );
  if (typeof body.client_id !== 'string' || !body.client_id)
    throw new TesseraError('TESSERA_UPSTREAM_OAUTH', 'dynamic client registration answered no client_id');
  const method = (body.token_endpoint_auth_method ?? 'client_secret_basic') as string;
  if (!(AUTH_METHODS as readonly string[]).includes(method))
    throw new TesseraError(
      'TESSERA_UPSTREAM_OAUTH',
      `dynamic client registration chose token_endpoint_auth_method "${method}", which Tessera does not support`,
    );
  const secret = typeof body.client_secret === 'string' ? body.client_secret : undefined;
  if (method !== 'none' && !secret)
    throw new TesseraError('TESSERA_UPSTREAM_OAUTH', 'dynamic client registration answered no client_secret');
  return {
    clientId: body.client_id,
    clientSecret: secret,
    authMethod: method as ClientCredentials['authMethod'],
    source: 'dynamic',
  };
}

export async function obtainClient(options: {
  fetcher: OutboundFetch;
  store: OAuthStore;
  server: string;
  target: AuthorizationTarget;
  publicUrl: string;
}): Promise<ClientCredentials> {
  const { store, server, target, publicUrl } = options;
  const pre = await store.staticClient(server);
  if (pre) return pre;
  // The metadata document must be fetchable by the authorization server: an https URL.
  if (target.clientIdMetadataDocumentSupported && publicUrl.startsWith('https://'))
    return {
      clientId: clientMetadataDocumentUrl(publicUrl),
      authMethod: 'none',
      source: 'metadata-document',
    };
  const kept = await store.registration(server, target.issuer);
  if (kept) return kept;
  if (target.registrationEndpoint) {
    const client = await register(options.fetcher, target.registrationEndpoint, publicUrl);
    await store.saveRegistration(server, target.issuer, client);
    return client;
  }
  throw new TesseraError(
    'TESSERA_UPSTREAM_OAUTH',
    `the authorization server ${target.issuer} supports neither client ID metadata documents nor dynamic registration; configure a client id for server "${server}"`,
  );
}
