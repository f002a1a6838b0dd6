/**
 * The byte layout of a sealed secret, version 1. Everything needed to open it travels with it,
 * so rows can be rotated, copied or restored one by one:
 *
 * ```
 *  0      2      3         4        5            5+k       7+k            7+k+w    19+k+w     n-16  n
 *  | "TS" | ver=1| provider| k (u8) | key id (k)  | w (u16) | wrapped DEK(w) | nonce(12) | ciphertext | tag(16) |
 * ```
 *
 * - provider: 1 = local, 2 = aws-kms; key id: the KEK that wrapped the DEK (UTF-8, ≤ 255 bytes).
 * - The DEK is AES-256; the data is AES-256-GCM under it, with a random 96-bit nonce and the
 *   associated data `"tessera-secretbox-v1\0" + context`. The header is deliberately not in the
 *   associated data: rotation replaces key id and wrapped DEK without touching the ciphertext.
 *   A tampered header cannot help an attacker, since the DEK it yields must still authenticate the tag.
 *
 * @module
 */
import { PROVIDER_CODES, type ProviderName } from './key-provider.ts';

export const SEALED_VERSION = 1;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
const MAGIC = [0x54, 0x53];

export interface Sealed {
  provider: ProviderName;
  keyId: string;
  wrappedKey: Buffer;
  nonce: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

export function encodeSealed(s: Sealed): Buffer {
  const keyId = Buffer.from(s.keyId, 'utf8');
  if (keyId.length === 0 || keyId.length > 255) throw new TypeError('key id must be 1..255 bytes');
  if (s.wrappedKey.length === 0 || s.wrappedKey.length > 0xffff)
    throw new TypeError('wrapped key must be 1..65535 bytes');
  if (s.nonce.length !== NONCE_BYTES) throw new TypeError(`nonce must be ${NONCE_BYTES} bytes`);
  if (s.tag.length !== TAG_BYTES) throw new TypeError(`tag must be ${TAG_BYTES} bytes`);
  const head = Buffer.alloc(5);
  head.set(MAGIC, 0);
  head[2] = SEALED_VERSION;
  head[3] = PROVIDER_CODES[s.provider];
  head[4] = keyId.length;
  const wlen = Buffer.alloc(2);
  wlen.writeUInt16BE(s.wrappedKey.length);
  return Buffer.concat([head, keyId, wlen, s.wrappedKey, s.nonce, s.ciphertext, s.tag]);
}

/** @throws TypeError naming what is wrong when `bytes` is not a version-1 sealed secret. */
export function decodeSealed(bytes: Uint8Array): Sealed {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < 5 || b[0] !== MAGIC[0] || b[1] !== MAGIC[1])
    throw new TypeError('not a sealed secret (bad magic)');
  if (b[2] !== SEALED_VERSION) throw new TypeError(`sealed secret version ${b[2]} is not supported`);
  const provider = (Object.keys(PROVIDER_CODES) as ProviderName[]).find((p) => PROVIDER_CODES[p] === b[3]);
  if (!provider) throw new TypeError(`sealed secret names unknown key provider ${b[3]}`);
  let at = 5;
  const k = b[4]!;
  const need = (n: number, what: string) => {
    if (at + n > b.length) throw new TypeError(`sealed secret is truncated in its ${what}`);
  };
  need(k + 2, 'header');
  const keyId = b.subarray(at, at + k).toString('utf8');
  at += k;
  const w = b.readUInt16BE(at);
  at += 2;
  need(w + NONCE_BYTES + TAG_BYTES, 'body');
  const wrappedKey = b.subarray(at, at + w);
  at += w;
  const nonce = b.subarray(at, at + NONCE_BYTES);
  at += NONCE_BYTES;
  return {
    provider,
    keyId,
    wrappedKey,
    nonce,
    ciphertext: b.subarray(at, b.length - TAG_BYTES),
    tag: b.subarray(b.length - TAG_BYTES),
  };
}
