/**
 * A key provider holds the key-encryption keys (KEKs) and wraps the per-record data keys (DEKs)
 * that `SecretBox` encrypts with. The KEK never leaves the provider: the local provider keeps it in
 * memory, AWS KMS never hands it out at all.
 *
 * @module
 */

/** The providers the sealed format knows, with their stable one-byte codes. */
export const PROVIDER_CODES = { local: 1, 'aws-kms': 2 } as const;
export type ProviderName = keyof typeof PROVIDER_CODES;

/** A fresh data key: its plaintext (used once, then dropped) and its wrapped form (stored). */
export interface DataKey {
  plaintext: Buffer;
  wrapped: Buffer;
  /** The KEK that wrapped it, as the provider names it (stored in the sealed header). */
  keyId: string;
}

export interface KeyProvider {
  readonly name: ProviderName;
  /**
   * A new 256-bit data key wrapped by the current KEK. `context` is bound to the wrapping (GCM
   * associated data, or the KMS encryption context): the wrapped key opens only with the same context.
   */
  generateDataKey(context: string): Promise<DataKey>;
  /** The plaintext of a wrapped data key. Fails when the KEK is unknown or the context differs. */
  unwrapDataKey(wrapped: Buffer, keyId: string, context: string): Promise<Buffer>;
  /** The same data key wrapped by the current KEK (key rotation); the data itself is untouched. */
  rewrapDataKey(wrapped: Buffer, keyId: string, context: string): Promise<{ wrapped: Buffer; keyId: string }>;
  /** Whether `keyId` is the current KEK, so a rotation can skip records that are already current. */
  isCurrent(keyId: string): boolean;
}
