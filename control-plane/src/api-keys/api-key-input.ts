/**
 * Validation of the admin API's API-key requests. A bad request is refused as a whole.
 *
 * @module
 */
import { SERVER_NAME } from '../catalog/server-input.ts';
import { TesseraError } from '../errors.ts';

export const EMAIL = /^[^@\s]{1,64}@[^@\s]{1,255}$/;
export const MAX_API_KEY_DAYS = 365;
const DEFAULT_DAYS = 90;

export interface ApiKeyInput {
  name: string;
  user: string;
  servers: string[];
  groups: string[];
  expiresInDays: number;
}

function bad(message: string): TesseraError {
  return new TesseraError('TESSERA_INVALID_ARGUMENT', message);
}

function names(value: unknown, field: string, pattern: RegExp | undefined, min: number): string[] {
  if (
    !Array.isArray(value) ||
    value.length < min ||
    value.length > 100 ||
    !value.every(
      (v) => typeof v === 'string' && v.length > 0 && v.length <= 256 && (!pattern || pattern.test(v)),
    )
  ) {
    throw bad(
      `"${field}" must be an array of ${min > 0 ? '1' : '0'} to 100 ${pattern ? 'server names' : 'non-empty strings'}`,
    );
  }
  return [...new Set(value as string[])].sort();
}

/** `{ name, user, servers, groups?, expiresInDays? }` */
export function parseApiKeyInput(body: unknown): ApiKeyInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw bad('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) {
    if (!['name', 'user', 'servers', 'groups', 'expiresInDays'].includes(k))
      throw bad(`unknown field "${k}"`);
  }
  if (typeof b.name !== 'string' || b.name.trim() === '' || b.name.length > 200)
    throw bad('"name" must be a non-empty string of at most 200 characters');
  if (typeof b.user !== 'string' || !EMAIL.test(b.user)) throw bad('"user" must be an email address');
  const days = b.expiresInDays ?? DEFAULT_DAYS;
  if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_API_KEY_DAYS)
    throw bad(`"expiresInDays" must be a whole number of days in 1..${MAX_API_KEY_DAYS}`);
  return {
    name: b.name.trim(),
    user: b.user,
    servers: names(b.servers, 'servers', SERVER_NAME, 1),
    groups: names(b.groups ?? [], 'groups', undefined, 0),
    expiresInDays: days,
  };
}
