/**
 * The mesh listener's gate. Connect reads and decodes a request's message before a service sees it,
 * so a service that authenticates its caller does so only after the body is in memory: without this
 * gate, anyone who could reach the listener could make a replica buffer a request body of Connect's
 * default limit (4 GiB). The gate authenticates every mesh call from its headers and answers
 * refusals before a byte of the body is read. The services authenticate again, for the identity they
 * scope their work to; that costs an HMAC, or a hit in TokenReview's cache.
 *
 * The limits a caller that passes the gate meets are `MESH_CALL_OPTIONS`.
 *
 * @module
 */
import { ConnectError } from '@connectrpc/connect';
import { codeToHttpStatus, errorToJsonBytes } from '@connectrpc/connect/protocol-connect';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { MeshAuthenticator } from './mesh-auth.ts';

/** Where the mesh services' procedures live; everything else on the listener (health) is open. */
export const MESH_PROCEDURE_PREFIX = '/tessera.mesh.v1.';

/**
 * The most a mesh message may hold. The largest the proxies send is an audit batch, which they cut
 * at `AUDIT_BATCH_MAX_BYTES` (4 MiB, `proxy/src/audit/audit-shipper.ts`); one event alone stays far
 * below it, since captured bodies are capped at 64 KiB each.
 */
export const MESH_READ_MAX_BYTES = 32 * 1024 * 1024;

/**
 * What the Connect plugin of the mesh listener accepts: the Connect protocol only (what the proxies
 * and `tessera` speak), no compression (no proxy compresses, and a compressed body is what would let
 * a small request expand in memory), and messages of at most `MESH_READ_MAX_BYTES`.
 */
export const MESH_CALL_OPTIONS: {
  grpc: false;
  grpcWeb: false;
  acceptCompression: [];
  readMaxBytes: number;
} = {
  grpc: false,
  grpcWeb: false,
  acceptCompression: [],
  readMaxBytes: MESH_READ_MAX_BYTES,
};

/**
 * A Fastify `onRequest` hook that refuses a mesh call whose `Authorization` header the authenticator
 * does not accept, with the Connect error it gave (`unauthenticated`: HTTP 401; TokenReview
 * unreachable: `unavailable`, 503) as Connect's JSON error body.
 */
export function meshGate(authenticate: MeshAuthenticator) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (!req.url.startsWith(MESH_PROCEDURE_PREFIX)) return;
    const header = req.headers.authorization;
    try {
      await authenticate(typeof header === 'string' ? header : null);
    } catch (err) {
      const e = ConnectError.from(err);
      await reply
        .code(codeToHttpStatus(e.code))
        .header('content-type', 'application/json')
        .send(Buffer.from(errorToJsonBytes(e, {})));
    }
  };
}
