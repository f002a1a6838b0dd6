/**
 * Decides which credential a proxy presents upstream for one user: a static credential when one is
 * configured, otherwise none. (OAuth tokens for servers with their own authorization server join
 * here through the `oauth` source.)
 *
 * @module
 */
import type { Headers, StaticCredentials } from './static-credentials.ts';

export interface Credential {
  headers: Headers;
  /** When the proxy must ask again; undefined: it may cache for its default time. */
  expiresAt?: Date;
  /** Set (and headers empty) when the user must first connect an account. */
  connectUrl?: string;
}

/** A source that may own a server's credentials (the OAuth client flow). */
export interface CredentialSource {
  /** undefined: this source does not apply to the server. */
  resolve(server: string, user: string): Promise<Credential | undefined>;
}

export interface CredentialBroker {
  get(server: string, user: string): Promise<Credential>;
}

export function createCredentialBroker(options: {
  statics: StaticCredentials;
  sources?: CredentialSource[];
}): CredentialBroker {
  return {
    async get(server, user) {
      const headers = await options.statics.resolve(server, user);
      if (headers) return { headers };
      for (const source of options.sources ?? []) {
        const c = await source.resolve(server, user);
        if (c) return c;
      }
      return { headers: [] };
    },
  };
}
