/**
 * Picks a free TCP port on 127.0.0.1 by binding port 0 and releasing it. etcd and kube-apiserver
 * cannot report a port they chose themselves, so the harness picks one and accepts the small window
 * in which another process could take it.
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
