/**
 * The local key provider: KEKs are 256-bit keys held in memory, wrapping data keys with
 * AES-256-GCM. The first key of the ring is current; older keys stay only to open data keys that
 * a rotation has not re-wrapped yet. Where the keys come from is `local-keyring.ts`.
 *
 * @module
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { DataKey, KeyProvider } from './key-provider.ts';

const AAD_PREFIX = 'tessera-dek-v1\0';

/** The id of a local KEK: a fingerprint, so the key itself never appears in a sealed header. */
export function localKeyId(key: Buffer): string {
  return `local-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

/**
 * @param keys 32-byte keys, current first.
 * @example
 * const provider = createLocalKeyProvider([randomBytes(32)]);
 */
export function createLocalKeyProvider(keys: readonly Buffer[]): KeyProvider {
  if (keys.length === 0) throw new TypeError('the local key provider needs at least one key');
  const ring = new Map<string, Buffer>();
  for (const key of keys) {
    if (key.length !== 32) throw new TypeError('a local encryption key must be 32 bytes');
    ring.set(localKeyId(key), key);
  }
  const currentId = localKeyId(keys[0]!);

  function wrap(dek: Buffer, context: string): Buffer {
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', ring.get(currentId)!, nonce);
    c.setAAD(Buffer.from(AAD_PREFIX + context, 'utf8'));
    const body = Buffer.concat([c.update(dek), c.final()]);
    return Buffer.concat([nonce, body, c.getAuthTag()]);
  }

  function unwrap(wrapped: Buffer, keyId: string, context: string): Buffer {
    const kek = ring.get(keyId);
    if (!kek) throw new Error(`local encryption key ${keyId} is not in the key ring`);
    if (wrapped.length !== 12 + 32 + 16) throw new Error('wrapped data key has the wrong length');
    const d = createDecipheriv('aes-256-gcm', kek, wrapped.subarray(0, 12));
    d.setAAD(Buffer.from(AAD_PREFIX + context, 'utf8'));
    d.setAuthTag(wrapped.subarray(44));
    return Buffer.concat([d.update(wrapped.subarray(12, 44)), d.final()]);
  }

  return {
    name: 'local',
    async generateDataKey(context): Promise<DataKey> {
      const plaintext = randomBytes(32);
      return { plaintext, wrapped: wrap(plaintext, context), keyId: currentId };
    },
    async unwrapDataKey(wrapped, keyId, context) {
      return unwrap(wrapped, keyId, context);
    },
    async rewrapDataKey(wrapped, keyId, context) {
      if (keyId === currentId) return { wrapped, keyId };
      const dek = unwrap(wrapped, keyId, context);
      try {
        return { wrapped: wrap(dek, context), keyId: currentId };
      } finally {
        dek.fill(0);
      }
    },
    isCurrent: (keyId) => keyId === currentId,
  };
}
