/**
 * The API key format: `tsk_<id>_<secret>`, where id is 16 characters [a-z0-9] (public, used to look
 * the key up and to name it in lists and audit) and secret is 32 random bytes in base64url.
 * The prefix lets proxies and secret scanners recognise a key.
 *
 * Stored: SHA-256 of the whole key string. A slow password hash (argon2, scrypt) protects
 * low-entropy secrets people choose; this secret has 256 random bits, so a fast hash is as strong
 * and lets every proxy verify a key per request without a costly KDF. The proxies verify it the same
 * way (`proxy/src/policies/api-key.ts`).
 *
 * @module
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';

const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';
export const API_KEY_ID = /^[a-z0-9]{16}$/;

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** A new key: what to show once, and what to store. */
export function newApiKey(): { id: string; key: string; secretHash: Buffer } {
  let id = '';
  for (let i = 0; i < 16; i++) id += ID_ALPHABET[randomInt(ID_ALPHABET.length)];
  const key = `tsk_${id}_${randomBytes(32).toString('base64url')}`;
  return { id, key, secretHash: hashApiKey(key) };
}
