/**
 * Validation of static upstream headers set through the admin API. Headers that would change how
 * the proxy talks HTTP (framing, hop-by-hop, the MCP session) are refused.
 *
 * @module
 */

import { EMAIL } from '../api-keys/api-key-input.ts';
import { TesseraError } from '../errors.ts';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$/;
const FORBIDDEN = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'proxy-connection',
  'accept',
  'mcp-session-id',
  'mcp-protocol-version',
  'traceparent',
  'tracestate',
]);
const MAX_HEADERS = 20;
const MAX_VALUE = 8192;

export interface HeaderInput {
  /** "" for the server-wide credential. */
  user: string;
  headers: Array<[name: string, value: string]>;
}

function bad(message: string): TesseraError {
  return new TesseraError('TESSERA_INVALID_ARGUMENT', message);
}

/** `{ user?, headers: { name: value } }` */
export function parseHeaderInput(body: unknown): HeaderInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw bad('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  for (const k of Object.keys(b)) if (k !== 'user' && k !== 'headers') throw bad(`unknown field "${k}"`);
  const user = b.user ?? '';
  if (typeof user !== 'string' || (user !== '' && !EMAIL.test(user)))
    throw bad('"user" must be an email address, or absent for the server-wide credential');
  if (typeof b.headers !== 'object' || b.headers === null || Array.isArray(b.headers))
    throw bad('"headers" must be an object of header names to values');
  const entries = Object.entries(b.headers as Record<string, unknown>);
  if (entries.length === 0 || entries.length > MAX_HEADERS)
    throw bad(`"headers" must hold 1 to ${MAX_HEADERS} headers`);
  const seen = new Set<string>();
  const headers: HeaderInput['headers'] = [];
  for (const [rawName, value] of entries) {
    const name = rawName.toLowerCase();
    if (!TOKEN.test(rawName)) throw bad(`header name "${rawName}" is not a valid HTTP header name`);
    if (FORBIDDEN.has(name)) throw bad(`header "${rawName}" is managed by the proxy and cannot be set`);
    if (seen.has(name)) throw bad(`header "${rawName}" is given twice`);
    seen.add(name);
    // Values are secrets: the message never echoes them.
    if (typeof value !== 'string' || value.length === 0 || value.length > MAX_VALUE || /[\r\n\0]/.test(value))
      throw bad(`the value of header "${rawName}" must be 1..${MAX_VALUE} characters without CR, LF or NUL`);
    headers.push([name, value]);
  }
  return { user, headers };
}
