/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for the server this proxy fronts, and the
 * `WWW-Authenticate` challenges (RFC 6750) that point clients at it.
 *
 * @module
 */
import type { UpstreamIR } from '../ir/proxy-config.ts';

export function protectedResourceMetadata(upstream: UpstreamIR): Record<string, unknown> {
  return {
    resource: upstream.resourceUri,
    authorization_servers: upstream.authorizationServers,
    // offline_access is an authorization-server concern and is never advertised by a resource.
    scopes_supported: upstream.scopesSupported.filter((s) => s !== 'offline_access'),
    bearer_methods_supported: ['header'],
    resource_name: upstream.server,
  };
}

function quote(value: string): string {
  return `"${value.replace(/["\\]/g, '')}"`;
}

/**
 * The challenge for a request without a usable token. `error` is set when a token was presented (or
 * sent the wrong way); `scope` lists every scope the resource needs, so a client can step up in one go.
 */
export function bearerChallenge(
  upstream: UpstreamIR,
  error?: { code: string; description: string; scope?: readonly string[] | undefined },
): string {
  const parts = [`resource_metadata=${quote(upstream.metadataUrl)}`];
  const scope = error?.scope ?? upstream.requiredScopes;
  // offline_access is never the resource's to ask for (MCP authorization, scope selection).
  const scopes = scope.filter((s) => s !== 'offline_access');
  if (scopes.length > 0) parts.unshift(`scope=${quote(scopes.join(' '))}`);
  if (error) parts.unshift(`error=${quote(error.code)}`, `error_description=${quote(error.description)}`);
  return `Bearer ${parts.join(', ')}`;
}
