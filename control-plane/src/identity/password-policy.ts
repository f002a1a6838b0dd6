/**
 * What a local account's password must be: long enough to resist guessing, short enough that
 * argon2 work stays bounded, and not the account's own email. Pure, so the admin API, the setup
 * page and the password change all give the same answer.
 *
 * @module
 */
import { MAX_PASSWORD_BYTES } from './password-hash.ts';

export const MIN_PASSWORD_CHARS = 12;

/**
 * Why `password` is not acceptable for the account `email`, or undefined when it is.
 *
 * @example
 * passwordProblem('short', 'a@example.com') // 'the password must have at least 12 characters'
 * passwordProblem('correct horse battery', 'a@example.com') // undefined
 */
export function passwordProblem(password: unknown, email: string): string | undefined {
  if (typeof password !== 'string') return 'the password must be a string';
  if ([...password].length < MIN_PASSWORD_CHARS)
    return `the password must have at least ${MIN_PASSWORD_CHARS} characters`;
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES)
    return `the password must be at most ${MAX_PASSWORD_BYTES} bytes`;
  if (password.trim().toLowerCase() === email.trim().toLowerCase())
    return 'the password must not be the email address';
  return undefined;
}
