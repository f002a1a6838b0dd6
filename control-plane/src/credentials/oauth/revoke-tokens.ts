/**
 * RFC 7009 token revocation at an upstream authorization server, when a user disconnects. Best
 * effort: the tokens are already gone from Tessera, so a server without a revocation endpoint, or
 * one that fails, only means the tokens live on upstream until they expire.
 *
 * @module
 */
import type { TokenSet } from './oauth-store.ts';
import type { OutboundFetch } from './outbound-fetch.ts';
import { clientRequest } from './token-endpoint.ts';

/** How revocation went: `unsupported` when the server announces no revocation endpoint. */
export type RevocationOutcome = 'revoked' | 'unsupported' | 'failed';

export async function revokeTokens(
  fetcher: OutboundFetch,
  endpoint: string | undefined,
  tokens: TokenSet,
): Promise<RevocationOutcome> {
  if (!endpoint) return 'unsupported';
  // Revoking the refresh token ends the grant (RFC 7009 §2.1): no new access tokens, and at most
  // servers the issued ones too. Self-contained access tokens often cannot be revoked at all.
  const [token, hint] = tokens.refreshToken
    ? [tokens.refreshToken, 'refresh_token']
    : [tokens.accessToken, 'access_token'];
  try {
    const { headers, params } = clientRequest(tokens.client, { token, token_type_hint: hint });
    const res = await fetcher.send(endpoint, { method: 'POST', headers, body: params.toString() });
    return res.status === 200 ? 'revoked' : 'failed';
  } catch {
    return 'failed';
  }
}
