/**
 * The `Host` check against DNS rebinding for a proxy that listens on loopback only. A rebound name
 * (`evil.example.com` resolving to 127.0.0.1) reaches such a listener with its own name in `Host`,
 * which no legitimate client of a loopback listener sends. A proxy listening on other interfaces is
 * addressed by names the operator chooses (mesh hostnames, ingress), so there `Host` is not checked
 * and the `Origin` check carries the protection. Requests without a `Host` (HTTP/1.0) pass: browsers
 * always send one.
 *
 * @module
 */

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const COMMON_LOOPBACK_HOST = /^(?:127\.0\.0\.1|localhost)(?::\d{1,5})?$/;

/** Whether a listener bound to `listenHost` only accepts loopback connections. */
export function isLoopbackListener(listenHost: string): boolean {
  return LOOPBACK_NAMES.has(listenHost.toLowerCase()) || /^127\.\d+\.\d+\.\d+$/.test(listenHost);
}

/**
 * The host name of a `Host` header value (`name`, `name:port`, `[v6]:port`), lower-cased; undefined
 * when it is not a valid authority.
 */
export function hostName(host: string): string | undefined {
  if (host === '' || /[/?#@\s]/.test(host)) return undefined;
  try {
    return new URL(`http://${host}`).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}

/**
 * Whether a request with this `Host` may reach the MCP endpoint of a proxy listening on `listenHost`:
 * always unless that is loopback; then a loopback name, the resource URI's host, or one the operator
 * listed (host names, compared without the port).
 */
export function hostAllowed(
  host: string | undefined,
  listenHost: string,
  resourceUri: string,
  allowed: readonly string[] = [],
): boolean {
  if (host === undefined || !isLoopbackListener(listenHost)) return true;
  // What nearly every request to a loopback listener carries, decided without parsing a URL.
  if (COMMON_LOOPBACK_HOST.test(host)) return true;
  const name = hostName(host);
  if (name === undefined) return false;
  // `*.localhost` resolves to loopback by definition (RFC 6761 §6.3), so it cannot be rebound.
  if (LOOPBACK_NAMES.has(name) || name.endsWith('.localhost') || /^127\.\d+\.\d+\.\d+$/.test(name))
    return true;
  if (URL.canParse(resourceUri) && new URL(resourceUri).hostname.toLowerCase() === name) return true;
  return allowed.some((a) => a.toLowerCase() === name);
}
