/**
 * The `Origin` check every Streamable HTTP server must make against DNS rebinding (2025-11-25 and
 * 2026-07-28 transports §Security: an `Origin` that is present and invalid gets 403). Requests without
 * an `Origin` (every non-browser client) pass. A browser origin passes when it is the origin of the
 * server's resource URI, a loopback origin, or one the operator listed.
 *
 * @module
 */

const loopback = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether a request with this `Origin` header may reach the MCP endpoint. */
export function originAllowed(
  origin: string | undefined,
  resourceUri: string,
  allowed: readonly string[] = [],
): boolean {
  if (origin === undefined) return true;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    return false; // includes the opaque origin "null"
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
  if (loopback.has(parsed.hostname)) return true;
  if (URL.canParse(resourceUri) && new URL(resourceUri).origin === parsed.origin) return true;
  return allowed.includes(parsed.origin);
}
