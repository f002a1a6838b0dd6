/**
 * The one seam through which identity code stores secrets (tokens, codes, client secrets, sessions,
 * IdP client secrets) in Postgres. It is an interface so that envelope encryption (the `SecretBox`)
 * replaces the pass-through below at one wiring site without touching any caller.
 *
 * @module
 */

/** Seals values before they are written and opens them after they are read. */
export interface SecretSealer {
  /** `context` names what the value is (e.g. "oidc:AccessToken") and must be given again to open it. */
  seal(plaintext: string, context: string): Promise<string>;
  /** @throws Error when the value was not sealed by this sealer for this context. */
  open(sealed: string, context: string): Promise<string>;
}

/**
 * Stores values as they are. The placeholder until the `SecretBox` is wired in; a prefix marks the
 * format so that a sealed value is never mistaken for a plain one, nor the other way round.
 */
export const plaintextSealer: SecretSealer = {
  async seal(plaintext) {
    return `plain:${plaintext}`;
  },
  async open(sealed) {
    if (!sealed.startsWith('plain:')) throw new Error('the stored value is not in the plain format');
    return sealed.slice('plain:'.length);
  },
};
