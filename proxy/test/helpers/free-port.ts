/**
 * Picks a free TCP port on 127.0.0.1 for a server that a test starts and that cannot report a port it
 * chose itself (`tessera start`, etcd, kube-apiserver, a proxy under test).
 *
 * A port from binding port 0 comes from the kernel's ephemeral range, the range it also draws every
 * outgoing connection's local port from. Between releasing such a port and the server binding it, any
 * of the hundreds of connections a busy test run opens can take it (seen in CI as `EADDRINUSE`). So
 * the port is drawn at random from below that range, where only explicit binds land, and checked by
 * binding it. A port already handed out in this process is not handed out again.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 20_000;
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  const below = ephemeralStart();
  for (let attempt = 0; below - LOWEST > 1000 && attempt < 100; attempt++) {
    const port = LOWEST + Math.floor(Math.random() * (below - LOWEST));
    if (handedOut.has(port) || (await bound(port)) === undefined) continue;
    handedOut.add(port);
    return port;
  }
  // An unusual ephemeral range leaves no room below it: take what the kernel picks.
  const port = await bound(0);
  if (port === undefined) throw new Error('no free port on 127.0.0.1');
  return port;
}

/** The first port of the kernel's ephemeral range (Linux), else the IANA one's. */
function ephemeralStart(): number {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 49_152;
  }
}

/** Binds `port` on 127.0.0.1 and releases it; returns the port bound, or undefined when it is taken. */
function bound(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(undefined));
    srv.listen(port, '127.0.0.1', () => {
      const { port: got } = srv.address() as { port: number };
      srv.close(() => resolve(got));
    });
  });
}
