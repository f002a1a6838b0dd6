/**
 * A scripted `CredentialService` on a real HTTP/2 Connect listener: the control plane's side of the
 * credential contract, as the egress proxy sees it. The test decides each answer and sees each call.
 *
 * @module
 */
import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import {
  type CredentialRequest,
  type CredentialResponseSchema,
  CredentialService,
} from '@tessera/api/mesh/v1/credentials';

export interface CredentialCall {
  request: CredentialRequest;
  authorization: string | null;
}

export type CredentialScript = (
  request: CredentialRequest,
) =>
  | MessageInitShape<typeof CredentialResponseSchema>
  | Promise<MessageInitShape<typeof CredentialResponseSchema>>;

export interface CredentialPeer {
  url: URL;
  calls: CredentialCall[];
  /** Replaces how the peer answers; throw a ConnectError to fail a call. */
  script: CredentialScript;
  close(): Promise<void>;
}

/** Starts the peer on 127.0.0.1; calls without `Bearer <meshToken>` get UNAUTHENTICATED. */
export async function startCredentialPeer(
  meshToken: string,
  script: CredentialScript,
): Promise<CredentialPeer> {
  const peer = { calls: [] as CredentialCall[], script } as CredentialPeer;
  const handler = connectNodeAdapter({
    routes: (router) =>
      router.service(CredentialService, {
        async getCredential(request, ctx) {
          const authorization = ctx.requestHeader.get('authorization');
          peer.calls.push({ request, authorization });
          if (authorization !== `Bearer ${meshToken}`)
            throw new ConnectError('bad mesh token', Code.Unauthenticated);
          return peer.script(request);
        },
      }),
  });
  const server: Http2Server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  peer.url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  peer.close = () =>
    new Promise<void>((r) => {
      server.close(() => r());
      // Open HTTP/2 sessions keep close() waiting; the proxy's transport reconnects on its next call.
      for (const s of sessions) s.destroy();
    });
  const sessions = new Set<ServerHttp2Session>();
  server.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  return peer;
}
