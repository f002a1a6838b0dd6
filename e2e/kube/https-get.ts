/**
 * A GET over HTTPS with a bearer token, trusting only the given CA: Node's fetch cannot take a CA
 * without a dispatcher from a library, and the harness keeps to Node's own modules.
 *
 * @module
 */
import { request } from 'node:https';

export function httpsGet(
  url: string,
  token: string,
  ca: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { headers: { ...headers, authorization: `Bearer ${token}` }, ca, timeout: 30_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out`)));
    req.on('error', reject);
    req.end();
  });
}
