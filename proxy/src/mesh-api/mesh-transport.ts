/**
 * The HTTP/2 Connect transport a proxy uses toward the control plane, for discovery and audit,
 * authenticated with the proxy's mesh token. It knows every control-plane address it was given and
 * uses one at a time; `failover()` moves to the next (the discovery client calls it when a stream is
 * lost, so discovery and audit follow together). A token read from a file is re-read at most every
 * few seconds, so a rotated projected service-account token is picked up without a restart.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { type ConnectClient, createConnectClient } from './connect-client.ts';

/** A Connect client for the address in use; `close()` closes the connections to every address. */
export interface MeshTransport extends ConnectClient {
  /** Moves to the next control-plane address (wrapping around). */
  failover(): void;
  /** The address in use. */
  current(): URL;
}

export interface MeshTransportOptions {
  controlPlaneUrl: URL;
  /** Every address in order of preference; default: `[controlPlaneUrl]`. */
  controlPlaneUrls?: URL[];
  meshToken: string;
  /** When set, the token is re-read from this file as it rotates (falling back to the last good one). */
  meshTokenFile?: string | undefined;
  /** How long a token read from the file is reused. */
  tokenRereadMs?: number;
}

function tokenSource(options: MeshTransportOptions): () => string {
  const file = options.meshTokenFile;
  if (!file) return () => options.meshToken;
  const rereadMs = options.tokenRereadMs ?? 5_000;
  let token = options.meshToken;
  let readAt = performance.now();
  return () => {
    if (performance.now() - readAt >= rereadMs) {
      readAt = performance.now();
      try {
        token = readFileSync(file, 'utf8').trim() || token;
      } catch {
        // Mid-rotation or briefly missing: keep the last token; the next read tries again.
      }
    }
    return token;
  };
}

export function createMeshTransport(options: MeshTransportOptions): MeshTransport {
  const token = tokenSource(options);
  const headers = () => ({ authorization: `Bearer ${token()}` });
  const urls = options.controlPlaneUrls?.length ? options.controlPlaneUrls : [options.controlPlaneUrl];
  // The client's pings (every 15 s) keep idle streams alive through intermediaries and detect dead peers.
  const clients = urls.map((baseUrl) => createConnectClient({ baseUrl, headers }));
  let index = 0;
  return {
    unary: (...args) => clients[index]!.unary(...args),
    stream: (...args) => clients[index]!.stream(...args),
    failover() {
      index = (index + 1) % clients.length;
    },
    current: () => urls[index]!,
    close() {
      for (const c of clients) c.close();
    },
  };
}
