/**
 * Finds how to get a token for an MCP server that has its own authorization server, as the MCP
 * specification (2025-11-25, "Authorization") describes: call the server without a token, read
 * `resource_metadata` from its 401 challenge (else try the well-known URLs), read the protected
 * resource metadata (RFC 9728), then the authorization server's metadata (RFC 8414 / OpenID
 * Connect Discovery, in the specified order). Every fetch goes through the SSRF-guarded client.
 *
 * @module
 */
import { TesseraError } from '../../errors.ts';
import {
  authorizationServerMetadataUrls,
  protectedResourceMetadataUrls,
  resourceMetadataFromChallenge,
} from './discovery-urls.ts';
import type { OutboundFetch } from './outbound-fetch.ts';

/** What the control plane needs to run the authorization code flow for one MCP server. */
export interface AuthorizationTarget {
  /** The MCP server's canonical URI (RFC 8707 `resource`), as its metadata names it. */
  resource: string;
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  registrationEndpoint?: string;
  /** RFC 7009 token revocation, when the server announces it. */
  revocationEndpoint?: string;
  /** The server accepts a client ID metadata document URL as client_id. */
  clientIdMetadataDocumentSupported: boolean;
  /** RFC 9207: the server puts `iss` in its authorization responses. */
  issParameterSupported: boolean;
  /** Scopes the resource advertises, used when the administrator configured none. */
  scopesSupported: string[];
}

const bad = (message: string) => new TesseraError('TESSERA_UPSTREAM_OAUTH', message);

const INITIALIZE = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: {
    protocolVersion: '2025-11-25',
    capabilities: {},
    clientInfo: { name: 'tessera-control-plane', version: '0.1.0' },
  },
});

const sameResource = (a: string, b: string) => a.replace(/\/$/, '') === b.replace(/\/$/, '');

function httpsOrAllowed(value: unknown, field: string): string {
  if (typeof value !== 'string' || !URL.canParse(value)) throw bad(`metadata field "${field}" is not a URL`);
  return value;
}

async function firstJson(
  fetcher: OutboundFetch,
  urls: string[],
): Promise<{ url: string; body: Record<string, unknown> }> {
  for (const url of urls) {
    const res = await fetcher.send(url, { headers: { accept: 'application/json' } });
    if (res.status === 200) return { url, body: res.json() };
  }
  throw bad(`no metadata at ${urls.join(', ')}`);
}

export async function discoverAuthorization(
  fetcher: OutboundFetch,
  mcpUrl: string,
): Promise<AuthorizationTarget> {
  const probe = await fetcher.send(mcpUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
    },
    body: INITIALIZE,
  });
  if (probe.status !== 401)
    throw bad(`${mcpUrl} answered ${probe.status} without a token; expected 401 with a Bearer challenge`);
  const named = resourceMetadataFromChallenge(probe.header('www-authenticate'));
  const prm = await firstJson(fetcher, named ? [named] : protectedResourceMetadataUrls(mcpUrl));

  // RFC 9728 §3.3: the metadata must be about this very resource, or an attacker's document could
  // send our users' tokens elsewhere.
  const resource = prm.body.resource;
  if (typeof resource !== 'string' || !sameResource(resource, mcpUrl))
    throw bad(`the protected resource metadata names "${String(resource)}", not ${mcpUrl}`);
  const servers = prm.body.authorization_servers;
  if (!Array.isArray(servers) || typeof servers[0] !== 'string')
    throw bad('the protected resource metadata names no authorization server');
  const issuer = servers[0];
  httpsOrAllowed(issuer, 'authorization_servers');

  const as = await firstJson(fetcher, authorizationServerMetadataUrls(issuer));
  // RFC 8414 §3.3: the document must be the issuer's own.
  if (as.body.issuer !== issuer)
    throw bad(`the authorization server metadata names issuer "${String(as.body.issuer)}", not ${issuer}`);
  const methods = as.body.code_challenge_methods_supported;
  if (!Array.isArray(methods) || !methods.includes('S256'))
    throw bad(`the authorization server ${issuer} does not announce PKCE S256, which MCP requires`);
  const scopes = prm.body.scopes_supported;
  return {
    resource,
    issuer,
    authorizationEndpoint: httpsOrAllowed(as.body.authorization_endpoint, 'authorization_endpoint'),
    tokenEndpoint: httpsOrAllowed(as.body.token_endpoint, 'token_endpoint'),
    registrationEndpoint:
      as.body.registration_endpoint === undefined
        ? undefined
        : httpsOrAllowed(as.body.registration_endpoint, 'registration_endpoint'),
    revocationEndpoint:
      as.body.revocation_endpoint === undefined
        ? undefined
        : httpsOrAllowed(as.body.revocation_endpoint, 'revocation_endpoint'),
    clientIdMetadataDocumentSupported: as.body.client_id_metadata_document_supported === true,
    issParameterSupported: as.body.authorization_response_iss_parameter_supported === true,
    scopesSupported: Array.isArray(scopes) ? scopes.filter((s) => typeof s === 'string') : [],
  };
}
