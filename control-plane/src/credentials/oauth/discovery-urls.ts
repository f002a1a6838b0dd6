/**
 * Where to look for an MCP server's authorization metadata, in the order the MCP specification
 * (2025-11-25, "Authorization Server Discovery") prescribes. Pure: the fetching (with the SSRF
 * guard) is the caller's.
 *
 * @module
 */

/**
 * The `resource_metadata` URL of a `WWW-Authenticate: Bearer …` challenge (RFC 9728 §5.1), if any.
 * Only the Bearer scheme's parameters are read.
 */
export function resourceMetadataFromChallenge(header: string | null | undefined): string | undefined {
  if (!header) return undefined;
  const bearer = /(?:^|,)\s*Bearer\s+(.*)$/i.exec(header)?.[1];
  if (!bearer) return undefined;
  const m = /(?:^|[\s,])resource_metadata\s*=\s*(?:"([^"]*)"|([^\s,]+))/i.exec(bearer);
  return m?.[1] ?? m?.[2];
}

/**
 * RFC 9728 protected-resource metadata URLs to try when the 401 names none: the path-inserted
 * well-known URI for the MCP endpoint, then the one at the root.
 */
export function protectedResourceMetadataUrls(mcpUrl: string): string[] {
  const u = new URL(mcpUrl);
  const path = u.pathname.replace(/\/$/, '');
  const urls = [];
  if (path) urls.push(`${u.origin}/.well-known/oauth-protected-resource${path}`);
  urls.push(`${u.origin}/.well-known/oauth-protected-resource`);
  return urls;
}

/**
 * Authorization-server metadata URLs for an issuer, in order: RFC 8414 with path insertion, OpenID
 * Connect Discovery with path insertion, then OpenID Connect Discovery with the path appended. An
 * issuer without a path has just the two root documents.
 */
export function authorizationServerMetadataUrls(issuer: string): string[] {
  const u = new URL(issuer);
  const path = u.pathname.replace(/\/$/, '');
  if (!path) {
    return [
      `${u.origin}/.well-known/oauth-authorization-server`,
      `${u.origin}/.well-known/openid-configuration`,
    ];
  }
  return [
    `${u.origin}/.well-known/oauth-authorization-server${path}`,
    `${u.origin}/.well-known/openid-configuration${path}`,
    `${u.origin}${path}/.well-known/openid-configuration`,
  ];
}
