/**
 * Where a browser may be sent back after signing in: only a path on the control plane's own
 * origin, so that a crafted link cannot turn the sign-in into an open redirect.
 *
 * @module
 */

const MAX_RETURN_TO = 8192;

/** The absolute URL for `returnTo` when it is a path on `publicUrl`'s origin; else undefined. */
export function sameOriginReturn(returnTo: unknown, publicUrl: string): string | undefined {
  if (typeof returnTo !== 'string' || returnTo.length > MAX_RETURN_TO) return undefined;
  // "//host" and "/\host" are other origins to a browser; control characters have no place here.
  if (!returnTo.startsWith('/') || /^\/[/\\]/.test(returnTo) || /[\p{Cc}\\]/u.test(returnTo))
    return undefined;
  const origin = new URL(publicUrl).origin;
  const url = URL.parse(returnTo, origin);
  return url && url.origin === origin ? url.href : undefined;
}
