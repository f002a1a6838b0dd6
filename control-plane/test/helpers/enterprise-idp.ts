/**
 * An enterprise identity provider for tests: a second, separate oidc-provider instance on a free
 * port with its own development login (any login name, which is the person's email) and a groups
 * claim, playing Keycloak/Okta/Entra behind Tessera's login.
 *
 * @module
 */
import { createServer, type Server } from 'node:http';
import Provider from 'oidc-provider';

export interface EnterpriseIdp {
  issuer: string;
  close(): Promise<void>;
}

export async function startEnterpriseIdp(options: {
  port: number;
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  groups: Record<string, string[]>;
}): Promise<EnterpriseIdp> {
  const issuer = `http://127.0.0.1:${options.port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: options.clientId,
        client_secret: options.clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
      },
    ],
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'], groups: ['groups'] },
    async findAccount(_ctx, sub) {
      return {
        accountId: sub,
        async claims() {
          return {
            sub,
            email: sub,
            email_verified: true,
            name: sub.split('@')[0],
            groups: options.groups[sub] ?? [],
          };
        },
      };
    },
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
  });
  const server: Server = createServer(provider.callback());
  await new Promise<void>((r) => server.listen(options.port, '127.0.0.1', () => r()));
  return {
    issuer,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
