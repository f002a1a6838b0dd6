/**
 * The one seam through which identity code stores secrets (tokens, codes, client secrets, sessions,
 * pending logins, generated keys) in Postgres: every value is sealed with the control plane's
 * `SecretBox`, bound to a context that names what it is.
 *
 * @module
 */

import type { SecretBox } from '../crypto/secret-box.ts';

/** Seals values before they are written and opens them after they are read. */
export interface SecretSealer {
  /** `context` names what the value is (e.g. "oidc:AccessToken") and must be given again to open it. */
  seal(plaintext: string, context: string): Promise<string>;
  /** @throws Error when the value was not sealed by this sealer for this context. */
  open(sealed: string, context: string): Promise<string>;
}

/**
 * Seals through the control plane's `SecretBox` (envelope encryption: a local key or KMS), as
 * base64 text for text columns.
 */
export function secretBoxSealer(box: SecretBox): SecretSealer {
  return {
    async seal(plaintext, context) {
      return (await box.seal(plaintext, context)).toString('base64');
    },
    open(sealed, context) {
      return box.openText(Buffer.from(sealed, 'base64'), context);
    },
  };
}

/**
 * Stores values as they are (unit tests of code above the storage only). The placeholder until the `SecretBox` is wired in; a prefix marks the
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
