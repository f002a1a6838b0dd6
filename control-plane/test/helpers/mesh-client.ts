/**
 * Test-side clients of the mesh API over real HTTP/2: Connect clients with a mesh token, and a
 * discovery stream the test drives request by request.
 *
 * @module
 */
import { create } from '@bufbuild/protobuf';
import { createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { AuditService } from '@tessera/api/mesh/v1/audit';
import { CredentialService } from '@tessera/api/mesh/v1/credentials';
import {
  type DiscoveryRequest,
  DiscoveryRequestSchema,
  type DiscoveryResponse,
  MeshDiscoveryService,
} from '@tessera/api/mesh/v1/discovery';

/** The type URLs of a proxy's resources, in dependency order. */
export const TYPE_URLS = ['TrustBundle', 'Upstream', 'ServerPolicy', 'AuditSettings'].map(
  (t) => `type.googleapis.com/tessera.mesh.v1.${t}`,
);

export function meshClients(meshUrl: string, token: string) {
  const auth: Interceptor = (next) => (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl: meshUrl, httpVersion: '2', interceptors: [auth] });
  return {
    discovery: createClient(MeshDiscoveryService, transport),
    audit: createClient(AuditService, transport),
    credentials: createClient(CredentialService, transport),
  };
}

export interface TestStream {
  send(init: Parameters<typeof create<typeof DiscoveryRequestSchema>>[1]): void;
  next(): Promise<DiscoveryResponse>;
  close(): void;
}

/** A discovery stream driven by the test: push requests, await responses one at a time. */
export function openStream(meshUrl: string, token: string): TestStream {
  const pending: DiscoveryRequest[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  async function* requests() {
    while (!ended) {
      if (pending.length) yield pending.shift()!;
      else await new Promise<void>((r) => (wake = r));
    }
  }
  const abort = new AbortController();
  const it = meshClients(meshUrl, token)
    .discovery.streamResources(requests(), { signal: abort.signal })
    [Symbol.asyncIterator]();
  return {
    send(init) {
      pending.push(create(DiscoveryRequestSchema, init));
      wake?.();
    },
    async next() {
      const r = await it.next();
      if (r.done) throw new Error('stream ended');
      return r.value;
    },
    close() {
      ended = true;
      wake?.();
      abort.abort();
    },
  };
}
