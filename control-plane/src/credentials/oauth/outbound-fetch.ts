/**
 * HTTP client for URLs the control plane did not choose (MCP servers, their authorization
 * servers). Every name is resolved first and every address checked by the outbound policy; the
 * socket then connects to exactly the checked address, so DNS rebinding cannot slip past the check.
 * Redirects are never followed, answers are capped in size and time.
 *
 * @module
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { TesseraError } from '../../errors.ts';
import type { OutboundPolicy } from './outbound-policy.ts';

export interface OutboundResponse {
  status: number;
  header(name: string): string | undefined;
  text: string;
  /** The body as a JSON object. @throws TesseraError `TESSERA_UPSTREAM_OAUTH` when it is not one. */
  json(): Record<string, unknown>;
}

export interface OutboundFetch {
  send(
    url: string,
    init?: { method?: 'GET' | 'POST'; headers?: Record<string, string>; body?: string },
  ): Promise<OutboundResponse>;
  close(): Promise<void>;
}

const refused = (message: string, cause?: unknown) =>
  new TesseraError('TESSERA_UPSTREAM_OAUTH', message, { cause });

export function createOutboundFetch(options: {
  policy: OutboundPolicy;
  timeoutMs?: number;
  maxBytes?: number;
}): OutboundFetch {
  const { policy } = options;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxBytes = options.maxBytes ?? 256 * 1024;

  type LookupCallback = (
    err: NodeJS.ErrnoException | null,
    address: string | LookupAddress[],
    family?: number,
  ) => void;
  function guardedLookup(hostname: string, opts: { all?: boolean }, callback: LookupCallback) {
    dnsLookup(hostname, { all: true }, (err, addresses) => {
      if (err) return callback(err, '');
      const bad = addresses.find((a) => policy.refuses(a.address));
      if (bad || addresses.length === 0) {
        const e = Object.assign(
          new Error(`"${hostname}" resolves to ${bad?.address ?? 'nothing'}, which is not allowed`),
          { code: 'ETESSERAREFUSED' },
        );
        return callback(e, '');
      }
      if (opts.all) return callback(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  }

  const agent = new Agent({
    connect: { lookup: guardedLookup, timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    connections: 16,
  });

  function checkUrl(raw: string): URL {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      throw refused(`"${raw}" is not a URL`);
    }
    if (url.username || url.password) throw refused(`"${raw}" must not carry credentials`);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    // A literal address never reaches the lookup, so it is checked here.
    if (isIP(host) && policy.refuses(host)) throw refused(`"${raw}" points to a forbidden address`);
    if (url.protocol === 'https:') return url;
    if (url.protocol === 'http:' && isIP(host) && policy.allows(host)) return url;
    throw refused(`"${raw}" must be an https URL`);
  }

  let closing: Promise<void> | undefined;
  return {
    async send(raw, init = {}) {
      const url = checkUrl(raw);
      try {
        const res = await request(url, {
          dispatcher: agent,
          method: init.method ?? 'GET',
          headers: { 'user-agent': 'tessera-control-plane', ...init.headers },
          body: init.body,
          signal: AbortSignal.timeout(timeoutMs),
        });
        const chunks: Buffer[] = [];
        let size = 0;
        for await (const chunk of res.body) {
          size += (chunk as Buffer).length;
          if (size > maxBytes) {
            res.body.destroy();
            throw refused(`the answer of ${url.origin} is larger than ${maxBytes} bytes`);
          }
          chunks.push(chunk as Buffer);
        }
        const text = Buffer.concat(chunks).toString('utf8');
        return {
          status: res.statusCode,
          header(name) {
            const v = res.headers[name.toLowerCase()];
            return Array.isArray(v) ? v.join(', ') : v;
          },
          text,
          json() {
            let value: unknown;
            try {
              value = JSON.parse(text);
            } catch {
              throw refused(`${url.origin}${url.pathname} did not answer JSON`);
            }
            if (typeof value !== 'object' || value === null || Array.isArray(value))
              throw refused(`${url.origin}${url.pathname} did not answer a JSON object`);
            return value as Record<string, unknown>;
          },
        };
      } catch (err) {
        if (err instanceof TesseraError) throw err;
        throw refused(`cannot fetch ${url.origin}${url.pathname}: ${(err as Error).message}`, err);
      }
    },
    // Idempotent: a control plane torn down after a failed start closes everything it got to open.
    close: () => (closing ??= agent.close()),
  };
}
