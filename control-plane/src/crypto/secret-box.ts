/**
 * Envelope encryption for secrets at rest. Each `seal` draws a fresh data key from the key
 * provider, encrypts the plaintext with AES-256-GCM under it, and stores the wrapped data key in
 * the sealed bytes (layout: `sealed-format.ts`). The `context` names what the secret is and where
 * it lives (for example `signing_keys/<kid>/private_jwk`); it is authenticated on both layers, so
 * a sealed value copied into another row or column does not open there.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { TesseraError } from '../errors.ts';
import type { KeyProvider, ProviderName } from './key-provider.ts';
import { decodeSealed, encodeSealed, NONCE_BYTES } from './sealed-format.ts';

const AAD_PREFIX = 'tessera-secretbox-v1\0';
const MAX_CONTEXT = 512;

export interface SecretBox {
  /** Encrypts `plaintext` (a string is taken as UTF-8) bound to `context`. */
  seal(plaintext: Uint8Array | string, context: string): Promise<Buffer>;
  /** Decrypts what `seal` returned for the same `context`. @throws TesseraError `TESSERA_SECRET_UNREADABLE` */
  open(sealed: Uint8Array, context: string): Promise<Buffer>;
  /** `open` decoded as UTF-8. */
  openText(sealed: Uint8Array, context: string): Promise<string>;
  /**
   * The same secret with its data key re-wrapped by the provider's current key (rotation), or
   * `undefined` when it already is. The ciphertext is unchanged.
   */
  rewrap(sealed: Uint8Array, context: string): Promise<Buffer | undefined>;
  /** Which provider and key a sealed value names, without opening it. */
  describe(sealed: Uint8Array): { provider: ProviderName; keyId: string };
}

function checkContext(context: string): void {
  if (typeof context !== 'string' || context.length === 0 || context.length > MAX_CONTEXT)
    throw new TypeError(`a SecretBox context must be a string of 1..${MAX_CONTEXT} characters`);
}

function aad(context: string): Buffer {
  return Buffer.from(AAD_PREFIX + context, 'utf8');
}

/**
 * @example
 * const box = createSecretBox({ provider: createLocalKeyProvider([key]) });
 * const sealed = await box.seal('s3cret', 'upstream_secrets/github/alice');
 * (await box.openText(sealed, 'upstream_secrets/github/alice')) === 's3cret';
 */
export function createSecretBox(options: { provider: KeyProvider }): SecretBox {
  const { provider } = options;

  function parse(sealed: Uint8Array) {
    try {
      const s = decodeSealed(sealed);
      if (s.provider !== provider.name)
        throw new TypeError(
          `it was sealed with the "${s.provider}" key provider, but "${provider.name}" is configured`,
        );
      return s;
    } catch (err) {
      throw new TesseraError('TESSERA_SECRET_UNREADABLE', `cannot open a secret: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async function open(sealed: Uint8Array, context: string): Promise<Buffer> {
    checkContext(context);
    const s = parse(sealed);
    let dek: Buffer | undefined;
    try {
      dek = await provider.unwrapDataKey(s.wrappedKey, s.keyId, context);
      const d = createDecipheriv('aes-256-gcm', dek, s.nonce);
      d.setAAD(aad(context));
      d.setAuthTag(s.tag);
      return Buffer.concat([d.update(s.ciphertext), d.final()]);
    } catch (err) {
      throw new TesseraError(
        'TESSERA_SECRET_UNREADABLE',
        `cannot open the secret "${context}" (key ${s.keyId}): wrong context, unknown key or tampered data`,
        { cause: err },
      );
    } finally {
      dek?.fill(0);
    }
  }

  return {
    async seal(plaintext, context) {
      checkContext(context);
      const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
      const dek = await provider.generateDataKey(context);
      try {
        const nonce = randomBytes(NONCE_BYTES);
        const c = createCipheriv('aes-256-gcm', dek.plaintext, nonce);
        c.setAAD(aad(context));
        const ciphertext = Buffer.concat([c.update(data), c.final()]);
        return encodeSealed({
          provider: provider.name,
          keyId: dek.keyId,
          wrappedKey: dek.wrapped,
          nonce,
          ciphertext,
          tag: c.getAuthTag(),
        });
      } finally {
        dek.plaintext.fill(0);
      }
    },
    open,
    async openText(sealed, context) {
      return (await open(sealed, context)).toString('utf8');
    },
    async rewrap(sealed, context) {
      checkContext(context);
      const s = parse(sealed);
      if (provider.isCurrent(s.keyId)) return undefined;
      try {
        const next = await provider.rewrapDataKey(s.wrappedKey, s.keyId, context);
        return encodeSealed({ ...s, keyId: next.keyId, wrappedKey: next.wrapped });
      } catch (err) {
        throw new TesseraError(
          'TESSERA_SECRET_UNREADABLE',
          `cannot re-wrap the secret "${context}" (key ${s.keyId}): ${(err as Error).message}`,
          { cause: err },
        );
      }
    },
    describe(sealed) {
      const s = parse(sealed);
      return { provider: s.provider, keyId: s.keyId };
    },
  };
}
