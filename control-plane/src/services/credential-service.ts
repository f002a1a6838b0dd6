/**
 * CredentialService: hands a proxy the credential it must present to its upstream MCP server for
 * one user. A proxy may ask only for its own server's credentials (its mesh identity names the server).
 *
 * @module
 */
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ServiceImpl } from '@connectrpc/connect';
import { type CredentialService, HeaderSchema } from '@tessera/api/mesh/v1/credentials';
import { SERVER_NAME } from '../catalog/server-input.ts';
import type { CredentialBroker } from '../credentials/credential-broker.ts';
import { TesseraError } from '../errors.ts';
import { type MeshAuthenticator, requireServer } from '../mesh/mesh-auth.ts';

export function credentialService(options: {
  broker: CredentialBroker;
  /** Who the calling proxy is (a bootstrap token, or a service-account token through TokenReview). */
  authenticate: MeshAuthenticator;
  serverExists: (name: string) => Promise<boolean>;
  log?: (msg: string, fields: Record<string, unknown>) => void;
}): ServiceImpl<typeof CredentialService> {
  return {
    async getCredential(req, context) {
      const identity = await options.authenticate(context.requestHeader.get('authorization'));
      if (!SERVER_NAME.test(req.server))
        throw new ConnectError('server must be a server name', Code.InvalidArgument);
      if (req.user.length > 320 || [...req.user].some((ch) => ch.charCodeAt(0) < 0x20))
        throw new ConnectError('user must be at most 320 printable characters', Code.InvalidArgument);
      requireServer(identity, req.server, 'server');
      if (!(await options.serverExists(req.server)))
        throw new ConnectError(`server "${req.server}" does not exist`, Code.NotFound);
      try {
        const c = await options.broker.get(req.server, req.user);
        return {
          headers: c.headers.map(([name, value]) => create(HeaderSchema, { name, value })),
          expiresAt: c.expiresAt ? timestampFromDate(c.expiresAt) : undefined,
          connectUrl: c.connectUrl ?? '',
        };
      } catch (err) {
        if (err instanceof ConnectError) throw err;
        options.log?.('credential lookup failed', { server: req.server, error: (err as Error).message });
        // Never the cause's text: it may name a key or a token endpoint's answer.
        const code =
          err instanceof TesseraError && err.code === 'TESSERA_UNAVAILABLE'
            ? Code.Unavailable
            : Code.Internal;
        throw new ConnectError('the credential could not be obtained', code);
      }
    },
  };
}
