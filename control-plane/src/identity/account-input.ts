/**
 * The body of `POST /api/v1/users`, validated: an email of sensible shape and length, an optional
 * display name, and an optional password that meets the policy. Pure, so every refusal is decided
 * before anything is hashed or stored.
 *
 * @module
 */
import { TesseraError } from '../errors.ts';
import { passwordProblem } from './password-policy.ts';

/** RFC 5321 caps a path at 254 characters; the local part at 64. No spaces, one "@", a dotted domain. */
const EMAIL = /^[^@\s\p{Cc}]{1,64}@[^@\s\p{Cc}.]+(\.[^@\s\p{Cc}.]+)+$/u;
const MAX_EMAIL = 254;
const NAME = /^[^\p{Cc}]{0,200}$/u;

export interface NewAccount {
  email: string;
  name: string;
  /** Absent: the account gets a one-time setup link instead. */
  password?: string;
}

/** Whether `value` is an email address a local account may have. */
export function isAccountEmail(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_EMAIL && EMAIL.test(value);
}

/**
 * @throws TesseraError TESSERA_INVALID_ARGUMENT naming the first problem.
 * @example
 * parseNewAccount({ email: 'Ana@Example.com' }) // { email: 'ana@example.com', name: '' }
 */
export function parseNewAccount(input: unknown): NewAccount {
  const bad = (message: string) => new TesseraError('TESSERA_INVALID_ARGUMENT', message);
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw bad('the body must be {"email", "password"?, "name"?}');
  const b = input as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!['email', 'password', 'name'].includes(k)) throw bad(`unknown field "${k}"`);
  }
  if (!isAccountEmail(b.email))
    throw bad(`"email" must be an email address of at most ${MAX_EMAIL} characters`);
  const email = b.email.toLowerCase();
  const name = b.name ?? '';
  if (typeof name !== 'string' || !NAME.test(name))
    throw bad('"name" must be a string of at most 200 characters without control characters');
  if (b.password === undefined) return { email, name };
  const problem = passwordProblem(b.password, email);
  if (problem) throw bad(`"password": ${problem}`);
  return { email, name, password: b.password as string };
}
