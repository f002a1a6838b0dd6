/**
 * A minimal browser for OAuth flows in tests: follows redirects one hop at a time, keeps cookies by
 * host and path (not by port, like a real browser), and submits the forms of server-rendered pages.
 * It runs no script, as the login and consent pages need none.
 *
 * @module
 */

interface Cookie {
  host: string;
  name: string;
  value: string;
  path: string;
}

export interface Page {
  url: URL;
  status: number;
  location: string | undefined;
  headers: Headers;
  body: string;
}

export interface Browser {
  /** Every URL visited, in order. */
  history: URL[];
  /** The Cookie header this browser would send to `url`. */
  cookieHeader(url: URL | string): string;
  request(url: URL | string, init?: { method?: string; form?: Record<string, string> }): Promise<Page>;
  /** Follows redirects until `stop(url)` is true for a Location (returned, not visited) or a page answers. */
  follow(start: Page, stop: (location: URL) => boolean): Promise<{ page: Page; stoppedAt: URL | undefined }>;
  /** Submits the form on `page` whose action matches, with its hidden fields, the named button and `fields`. */
  submit(
    page: Page,
    action: RegExp,
    fields: Record<string, string>,
    button?: { name: string; value: string },
  ): Promise<Page>;
}

function parseSetCookie(host: string, header: string): Cookie & { delete: boolean } {
  const [pair, ...attrs] = header.split(';').map((s) => s.trim());
  const eq = pair!.indexOf('=');
  let path = '/';
  let del = false;
  for (const a of attrs) {
    const [k, v = ''] = a.split('=');
    if (k!.toLowerCase() === 'path') path = v;
    if (k!.toLowerCase() === 'max-age' && Number(v) <= 0) del = true;
    if (k!.toLowerCase() === 'expires' && Date.parse(v) < Date.now()) del = true;
  }
  return { host, name: pair!.slice(0, eq), value: pair!.slice(eq + 1), path, delete: del };
}

function attr(tag: string, name: string): string | undefined {
  const m = new RegExp(`\\s${name}="([^"]*)"`, 'i').exec(tag);
  return m?.[1]
    ?.replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

export function createBrowser(): Browser {
  const jar: Cookie[] = [];
  const history: URL[] = [];
  const browser: Browser = {
    history,
    cookieHeader(target) {
      const url = new URL(target);
      return jar
        .filter((c) => c.host === url.hostname && url.pathname.startsWith(c.path))
        .map((c) => `${c.name}=${c.value}`)
        .join('; ');
    },
    async request(target, init = {}) {
      const url = new URL(target);
      history.push(url);
      const headers: Record<string, string> = {};
      const cookie = browser.cookieHeader(url);
      if (cookie) headers.cookie = cookie;
      let body: string | undefined;
      if (init.form) {
        headers['content-type'] = 'application/x-www-form-urlencoded';
        body = new URLSearchParams(init.form).toString();
      }
      const res = await fetch(url, {
        method: init.method ?? (body ? 'POST' : 'GET'),
        headers,
        body,
        redirect: 'manual',
      });
      for (const h of res.headers.getSetCookie()) {
        const c = parseSetCookie(url.hostname, h);
        const i = jar.findIndex((x) => x.host === c.host && x.name === c.name && x.path === c.path);
        if (i !== -1) jar.splice(i, 1);
        if (!c.delete) jar.push({ host: c.host, name: c.name, value: c.value, path: c.path });
      }
      return {
        url,
        status: res.status,
        location: res.headers.get('location') ?? undefined,
        headers: res.headers,
        body: await res.text(),
      };
    },
    async follow(start, stop) {
      let page = start;
      for (let hops = 0; hops < 20; hops++) {
        if (!page.location || page.status < 300 || page.status >= 400) return { page, stoppedAt: undefined };
        const next = new URL(page.location, page.url);
        if (stop(next)) return { page, stoppedAt: next };
        page = await browser.request(next);
      }
      throw new Error('too many redirects');
    },
    async submit(page, action, fields, button) {
      for (const m of page.body.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)) {
        const target = attr(m[1]!, 'action') ?? page.url.pathname;
        if (!action.test(target)) continue;
        const form: Record<string, string> = {};
        for (const input of m[2]!.matchAll(/<input\b[^>]*>/gi)) {
          const name = attr(input[0], 'name');
          if (name) form[name] = attr(input[0], 'value') ?? '';
        }
        if (button) form[button.name] = button.value;
        return browser.request(new URL(target, page.url), { method: 'POST', form: { ...form, ...fields } });
      }
      throw new Error(`no form with an action like ${action} on ${page.url}:\n${page.body}`);
    },
  };
  return browser;
}
