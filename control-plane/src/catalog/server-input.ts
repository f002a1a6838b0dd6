/**
 * Validation of server registrations and grants coming through the admin API. Pure: returns the
 * normalised value or throws naming the field.
 *
 * @module
 */
import type { McpServerRow } from '../db/entities/mcp-server.ts';
import { TesseraError } from '../errors.ts';

/** A validated registration: a server row without the timestamps the database keeps, and without its
 * policy, which is set through its own route. */
export type ServerInput = Omit<McpServerRow, 'createdAt' | 'updatedAt' | 'policy'>;

export const SERVER_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function bad(message: string): TesseraError {
  return new TesseraError('TESSERA_INVALID_ARGUMENT', message);
}

/** A list of non-empty strings. Grant lists are sets; command arguments keep order and repeats. */
function stringList(value: unknown, field: string, unique: boolean, max = 1000): string[] {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    value.length > max ||
    !value.every((v) => typeof v === 'string' && v.length > 0 && v.length <= 320)
  ) {
    throw bad(`"${field}" must be an array of at most ${max} non-empty strings`);
  }
  return unique ? [...new Set(value as string[])] : [...(value as string[])];
}

function httpUrl(value: unknown, field: string): string {
  if (typeof value !== 'string') throw bad(`"${field}" must be a URL string`);
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw bad(`"${field}" is not a URL: ${value}`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw bad(`"${field}" must be http or https`);
  // Not u.search/u.hash: an empty "?" or "#" leaves them empty but stays in the URL.
  if (/[?#]/.test(u.href)) throw bad(`"${field}" must have no query or fragment`);
  return u.toString();
}

/**
 * Validates grants: `{ users?: string[], groups?: string[] }`. `field` names where they sit when they
 * are part of a larger body (`"grants"`), so that errors point at the right place.
 */
export function parseGrants(body: unknown, field?: string): { grantUsers: string[]; grantGroups: string[] } {
  const at = (name: string) => (field ? `${field}.${name}` : name);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw bad(field ? `"${field}" must be a JSON object` : 'the body must be a JSON object');
  }
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) {
    if (key !== 'users' && key !== 'groups') throw bad(`unknown field "${at(key)}"`);
  }
  return {
    grantUsers: stringList(b.users, at('users'), true),
    grantGroups: stringList(b.groups, at('groups'), true),
  };
}

/**
 * Validates a registration: `{ name, kind: "http", url, resourceUri, localPort?, grants? }`,
 * `{ name, kind: "sse", url, … }` (a server on the deprecated HTTP+SSE transport; `url` is its SSE URL)
 * or `{ name, kind: "stdio", command, args?, resourceUri, localPort?, grants? }`.
 */
export function parseServerInput(body: unknown): ServerInput {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw bad('the body must be a JSON object');
  const b = body as Record<string, unknown>;
  const allowed = new Set(['name', 'kind', 'command', 'args', 'url', 'resourceUri', 'localPort', 'grants']);
  for (const key of Object.keys(b)) if (!allowed.has(key)) throw bad(`unknown field "${key}"`);
  if (typeof b.name !== 'string' || !SERVER_NAME.test(b.name)) {
    throw bad('"name" must be a DNS label: lower-case letters, digits and "-", at most 63 characters');
  }
  if (b.kind !== 'stdio' && b.kind !== 'http' && b.kind !== 'sse')
    throw bad('"kind" must be "stdio", "http" or "sse"');
  let localPort: number | null = null;
  if (b.localPort !== undefined) {
    if (!Number.isInteger(b.localPort) || (b.localPort as number) < 1 || (b.localPort as number) > 65535) {
      throw bad('"localPort" must be an integer in 1..65535');
    }
    localPort = b.localPort as number;
  }
  const grants =
    b.grants === undefined ? { grantUsers: [], grantGroups: [] } : parseGrants(b.grants, 'grants');
  const resourceUri = httpUrl(b.resourceUri, 'resourceUri');
  if (b.kind === 'http' || b.kind === 'sse') {
    if (b.command !== undefined || b.args !== undefined)
      throw bad('"command" and "args" are only for kind "stdio"');
    return {
      name: b.name,
      kind: b.kind,
      command: null,
      args: [],
      url: httpUrl(b.url, 'url'),
      resourceUri,
      localPort,
      ...grants,
    };
  }
  if (b.url !== undefined) throw bad('"url" is only for kinds "http" and "sse"');
  if (typeof b.command !== 'string' || b.command.length === 0)
    throw bad('"command" must be a non-empty string');
  return {
    name: b.name,
    kind: 'stdio',
    command: b.command,
    args: stringList(b.args, 'args', false),
    url: null,
    resourceUri,
    localPort,
    ...grants,
  };
}
