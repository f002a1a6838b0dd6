/**
 * An MCP client application's OAuth state, in memory, as the SDK's documentation describes it: what
 * the SDK saves (registration, tokens, PKCE verifier) and where it would send the browser.
 *
 * @module
 */
import type { OAuthClientProvider } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';

export class MemoryOAuthClient implements OAuthClientProvider {
  info: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  authorizationUrl: URL | undefined;
  readonly redirectUrl: string;
  readonly clientMetadata: OAuthClientMetadata;
  /** Set: the client identifies itself with this client ID metadata document instead of registering. */
  readonly clientMetadataUrl: string | undefined;
  constructor(options: { redirectUrl: string; metadata: OAuthClientMetadata; clientMetadataUrl?: string }) {
    this.redirectUrl = options.redirectUrl;
    this.clientMetadata = options.metadata;
    this.clientMetadataUrl = options.clientMetadataUrl;
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
}
