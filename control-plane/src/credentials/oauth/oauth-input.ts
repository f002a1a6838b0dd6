/**
 * Validates the admin API body that turns on the OAuth client flow for a server. Pure.
 *
 * @module
 */
import { TesseraError } from '../../errors.ts';

export interface OAuthInput {
  /** undefined: the server's own upstream URL. */
  mcpUrl?: string;
  scopes: string[];
  clientId?: string;
  clientSecret?: string;
}

const FIELDS = ['url', 'scopes', 'clientId', 'clientSecret'];
/** RFC 6749 §3.3 scope-token. */
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]{1,128}$/;
const PRINTABLE = /^[\x21-\x7e]{1,512}$/;

const invalid = (message: string) => new TesseraError('TESSERA_INVALID_ARGUMENT', message);

export function parseOAuthInput(body: unknown): OAuthInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw invalid('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (!FIELDS.includes(k)) throw invalid(`unknown field "${k}"`);
  let mcpUrl: string | undefined;
  if (b.url !== undefined) {
    const u = typeof b.url === 'string' && URL.canParse(b.url) ? new URL(b.url) : undefined;
    if (!u || (u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password || u.hash)
      throw invalid('"url" must be an http(s) URL without credentials or fragment');
    mcpUrl = u.toString();
  }
  const scopes = b.scopes ?? [];
  if (
    !Array.isArray(scopes) ||
    scopes.length > 20 ||
    !scopes.every((s) => typeof s === 'string' && SCOPE.test(s))
  )
    throw invalid('"scopes" must be an array of at most 20 OAuth scope tokens');
  for (const k of ['clientId', 'clientSecret'] as const) {
    if (b[k] !== undefined && (typeof b[k] !== 'string' || !PRINTABLE.test(b[k])))
      throw invalid(`"${k}" must be 1 to 512 printable characters`);
  }
  if (b.clientSecret !== undefined && b.clientId === undefined)
    throw invalid('"clientSecret" needs a "clientId"');
  return {
    mcpUrl,
    scopes: [...new Set(scopes as string[])],
    clientId: b.clientId as string | undefined,
    clientSecret: b.clientSecret as string | undefined,
  };
}
