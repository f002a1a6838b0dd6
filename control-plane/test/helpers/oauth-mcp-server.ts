/**
 * An MCP server with its own OAuth authorization server, for the gateway-as-client tests: a real
 * `oidc-provider` (dynamic registration, RFC 8707 resource indicators, JWT access tokens with the
 * MCP server as audience, rotating refresh tokens) whose login and consent complete on their own
 * for the account "upstream-alice", and an MCP SDK streamable HTTP server that accepts only those
 * tokens and names its authorization server through RFC 9728 metadata.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import Provider, { errors } from 'oidc-provider';

export interface OAuthMcpServer {
  /** The MCP endpoint, which is also its canonical resource URI. */
  mcpUrl: string;
  issuer: string;
  /** Tokens the MCP server accepted, by subject, for assertions. */
  accepted: string[];
  close(): Promise<void>;
}

const listen = (server: Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)),
  );

export async function startOAuthMcpServer(): Promise<OAuthMcpServer> {
  const asHttp = createServer();
  const mcpHttp = createServer();
  const [asPort, mcpPort] = await Promise.all([listen(asHttp), listen(mcpHttp)]);
  const issuer = `http://127.0.0.1:${asPort}`;
  const mcpUrl = `http://127.0.0.1:${mcpPort}/mcp`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });

  const provider = new Provider(issuer, {
    jwks: { keys: [{ ...(await exportJWK(privateKey)), alg: 'RS256', use: 'sig', kid: 'as-1' }] },
    cookies: { keys: ['fixture-cookie-key-0123456789'] },
    findAccount: async (_ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    features: {
      devInteractions: { enabled: false },
      registration: { enabled: true },
      revocation: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => mcpUrl,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => {
          if (indicator !== mcpUrl) throw new errors.InvalidTarget();
          return { scope: 'mcp:tools', audience: mcpUrl, accessTokenFormat: 'jwt', accessTokenTTL: 300 };
        },
      },
    },
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  });

  // Auto-login and consent: what a user clicking "allow" would produce.
  async function interact(req: IncomingMessage, res: ServerResponse) {
    const details = await provider.interactionDetails(req, res);
    if (details.prompt.name === 'login') {
      await provider.interactionFinished(req, res, { login: { accountId: 'upstream-alice' } });
      return;
    }
    const grant = new provider.Grant({
      accountId: details.session!.accountId,
      clientId: details.params.client_id as string,
    });
    const missing = details.prompt.details as {
      missingOIDCScope?: string[];
      missingResourceScopes?: Record<string, string[]>;
    };
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {}))
      grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  }
  const callback = provider.callback();
  asHttp.on('request', (req, res) => {
    if (req.url?.startsWith('/interaction/'))
      interact(req, res).catch((err: Error) => {
        res.statusCode = 500;
        res.end(err.message);
      });
    else callback(req, res);
  });

  const jwks = createRemoteJWKSet(new URL(`${issuer}/jwks`));
  const metadataUrl = `http://127.0.0.1:${mcpPort}/.well-known/oauth-protected-resource/mcp`;
  const accepted: string[] = [];
  mcpHttp.on('request', async (req, res) => {
    if (req.url === '/.well-known/oauth-protected-resource/mcp') {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          resource: mcpUrl,
          authorization_servers: [issuer],
          scopes_supported: ['mcp:tools'],
        }),
      );
      return;
    }
    if (req.url !== '/mcp') {
      res.statusCode = 404;
      res.end();
      return;
    }
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    let subject: string;
    try {
      if (!token) throw new Error('no token');
      const { payload } = await jwtVerify(token, jwks, { issuer, audience: mcpUrl });
      subject = String(payload.sub);
    } catch {
      res.statusCode = 401;
      res.setHeader('www-authenticate', `Bearer error="invalid_token", resource_metadata="${metadataUrl}"`);
      res.end();
      return;
    }
    accepted.push(subject);
    const server = new McpServer({ name: 'guarded', version: '1.0.0' });
    server.registerTool('whoami', { description: 'who the token belongs to' }, async () => ({
      content: [{ type: 'text', text: subject }],
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(req, res);
  });

  return {
    mcpUrl,
    issuer,
    accepted,
    async close() {
      for (const s of [asHttp, mcpHttp]) s.closeAllConnections();
      await Promise.all([asHttp, mcpHttp].map((s) => new Promise((r) => s.close(r))));
    },
  };
}
