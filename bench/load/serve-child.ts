/**
 * How the benchmark's upstream servers run as child processes (`fork`): listen on a free port of
 * 127.0.0.1, send that port to the driver over IPC, and exit when the driver goes away.
 *
 * @module
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export function serveAsChild(server: Server): void {
  server.keepAliveTimeout = 65_000;
  server.listen(0, '127.0.0.1', () => {
    process.send?.({ port: (server.address() as AddressInfo).port });
  });
  process.on('disconnect', () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
