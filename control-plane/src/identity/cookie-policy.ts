/**
 * How identity cookies are named and flagged, decided once from the public URL.
 *
 * Over https every cookie is `Secure`, `HttpOnly`, `SameSite=Lax`, and those scoped to the whole
 * site carry the `__Host-` prefix (which browsers accept only with `Secure`, `Path=/` and no
 * `Domain`). A plain-http public URL is only for local use on loopback (`npm start` on 127.0.0.1):
 * there browsers would drop `Secure`/`__Host-` cookies on some hosts, so the same cookies are set
 * without the prefix and without `Secure`, and stay `HttpOnly` and `SameSite=Lax`.
 *
 * @module
 */

export interface CookiePolicy {
  secure: boolean;
  /** The cookie name for a site-wide cookie called `base`. */
  name(base: string): string;
  /** The Set-Cookie value for a site-wide cookie; `maxAgeS` 0 deletes it. */
  serialize(base: string, value: string, maxAgeS: number): string;
}

export function cookiePolicy(publicUrl: string): CookiePolicy {
  const secure = new URL(publicUrl).protocol === 'https:';
  const name = (base: string) => (secure ? `__Host-${base}` : base);
  return {
    secure,
    name,
    serialize(base, value, maxAgeS) {
      const attrs = [
        `${name(base)}=${encodeURIComponent(value)}`,
        'Path=/',
        `Max-Age=${maxAgeS}`,
        'HttpOnly',
        'SameSite=Lax',
      ];
      if (secure) attrs.push('Secure');
      return attrs.join('; ');
    },
  };
}

/** The value of cookie `name` in a Cookie header, else undefined. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}
