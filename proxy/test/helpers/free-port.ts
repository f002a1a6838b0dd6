/**
 * Picks a free TCP port on 127.0.0.1 by binding port 0 and releasing it. There is a small window in
 * which another process could take it; tests accept that rather than hard-coding ports.
 *
 * @module
 */
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}
