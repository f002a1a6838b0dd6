/**
 * Password hashing for local accounts: argon2id from Node's own crypto (no native addon to build),
 * stored in the PHC string format so parameters can be raised later without breaking old hashes.
 *
 * @module
 */
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

const argon2Async = promisify(argon2);

/** OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane. */
const DEFAULTS = { memory: 19_456, passes: 2, parallelism: 1, tagLength: 32 };

/** Passwords longer than this are refused before hashing, so a huge body cannot buy CPU time. */
export const MAX_PASSWORD_BYTES = 1024;

async function derive(
  password: string,
  salt: Buffer,
  p: { memory: number; passes: number; parallelism: number; tagLength: number },
): Promise<Buffer> {
  return argon2Async('argon2id', { message: password, nonce: salt, ...p });
}

/**
 * Hashes a password for storage.
 *
 * @example
 * const stored = await hashPassword('correct horse battery staple'); // "$argon2id$v=19$m=19456,t=2,p=1$…$…"
 */
export async function hashPassword(password: string): Promise<string> {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) throw new TypeError('the password is too long');
  const salt = randomBytes(16);
  const tag = await derive(password, salt, DEFAULTS);
  const { memory: m, passes: t, parallelism: p } = DEFAULTS;
  return `$argon2id$v=19$m=${m},t=${t},p=${p}$${salt.toString('base64url')}$${tag.toString('base64url')}`;
}

const PHC = /^\$argon2id\$v=19\$m=(\d{1,7}),t=(\d{1,2}),p=(\d{1,2})\$([\w-]{16,64})\$([\w-]{16,128})$/;

/** Whether `password` matches `stored`; false for a malformed stored value or an over-long password. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = PHC.exec(stored);
  if (!m || Buffer.byteLength(password) > MAX_PASSWORD_BYTES) return false;
  const expected = Buffer.from(m[5]!, 'base64url');
  const tag = await derive(password, Buffer.from(m[4]!, 'base64url'), {
    memory: Number(m[1]),
    passes: Number(m[2]),
    parallelism: Number(m[3]),
    tagLength: expected.length,
  });
  return timingSafeEqual(tag, expected);
}
