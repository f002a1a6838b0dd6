/**
 * Login through any OpenID Connect provider (Keycloak, Okta, Entra ID, Google, …) with
 * openid-client: issuer discovery, authorization code with PKCE S256, state and nonce, and a
 * configurable claim that carries the person's groups.
 *
 * @module
 */
import * as oidc from 'openid-client';
import type { OidcLoginSettings } from '../config.ts';
import type { ExternalIdp } from './external-idp.ts';
import { groupsFrom } from './external-idp.ts';

/** The provider's issuer, client and claim settings (TESSERA_OIDC_*). */
export type OidcIdpOptions = OidcLoginSettings;

function isLoopback(url: URL): boolean {
  return ['127.0.0.1', '[::1]', 'localhost'].includes(url.hostname);
}

export function createOidcIdp(o: OidcIdpOptions): ExternalIdp {
  let configuration: Promise<oidc.Configuration> | undefined;
  function config(): Promise<oidc.Configuration> {
    const issuer = new URL(o.issuer);
    // Plain http is accepted only for an IdP on this machine (development and tests).
    const execute = issuer.protocol === 'http:' && isLoopback(issuer) ? [oidc.allowInsecureRequests] : [];
    configuration ??= oidc
      .discovery(issuer, o.clientId, o.clientSecret, undefined, { execute })
      .catch((err) => {
        configuration = undefined; // try discovery again next time
        throw err;
      });
    return configuration;
  }
  return {
    kind: 'oidc',
    label: o.label,
    async authorizationUrl(state, pending, redirectUri) {
      return oidc.buildAuthorizationUrl(await config(), {
        redirect_uri: redirectUri,
        scope: o.scopes,
        state,
        nonce: pending.nonce,
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.codeVerifier),
        code_challenge_method: 'S256',
      });
    },
    async finish(callbackUrl, state, pending, redirectUri) {
      const c = await config();
      const tokens = await oidc.authorizationCodeGrant(
        c,
        callbackUrl,
        {
          pkceCodeVerifier: pending.codeVerifier,
          expectedState: state,
          expectedNonce: pending.nonce,
          idTokenExpected: true,
        },
        { redirect_uri: redirectUri },
      );
      const idClaims = tokens.claims()!;
      let claims: Record<string, unknown> = { ...idClaims };
      if (typeof claims.email !== 'string' || !(o.groupsClaim in claims)) {
        const info = await oidc.fetchUserInfo(c, tokens.access_token, idClaims.sub);
        claims = { ...info, ...claims };
      }
      if (typeof claims.email !== 'string' || claims.email === '') {
        throw new Error('the identity provider sent no email address for this person');
      }
      if (claims.email_verified === false)
        throw new Error('the identity provider has not verified this email address');
      return {
        idp: 'oidc',
        subject: idClaims.sub,
        email: claims.email,
        name: typeof claims.name === 'string' ? claims.name : '',
        groups: groupsFrom(claims[o.groupsClaim]),
      };
    },
  };
}
