/**
 * The shape every external login source has (generic OIDC, GitHub): build the redirect to the
 * provider, then turn its callback into a verified person. Pending state is kept by the caller.
 *
 * @module
 */
import type { ExternalLogin } from './user-store.ts';

/** What must survive the round trip through the provider, stored server-side and used once. */
export interface PendingLogin {
  codeVerifier: string;
  nonce: string;
}

export interface ExternalIdp {
  /** Route segment and user-store `idp` value: "oidc" or "github". */
  kind: 'oidc' | 'github';
  /** The button text on the login page. */
  label: string;
  /** The provider's authorization URL for this attempt. */
  authorizationUrl(state: string, pending: PendingLogin, redirectUri: string): Promise<URL>;
  /**
   * Exchanges the callback for the person who logged in.
   *
   * @throws Error with a message safe to show when the provider refused or answered wrongly.
   */
  finish(callbackUrl: URL, state: string, pending: PendingLogin, redirectUri: string): Promise<ExternalLogin>;
}

/** Reads a group claim that may be an array of strings or one string; anything else yields none. */
export function groupsFrom(value: unknown): string[] {
  if (typeof value === 'string') return value ? [value] : [];
  if (!Array.isArray(value)) return [];
  return value
    .filter((g): g is string => typeof g === 'string' && g.length > 0 && g.length <= 256)
    .slice(0, 500);
}
