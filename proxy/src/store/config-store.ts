/**
 * Holds the proxy's current configuration and swaps it atomically. Readiness latches once every
 * resource type has arrived: a later control-plane outage does not make the proxy unready.
 *
 * @module
 */
import type { ProxyConfig, ResourceKind } from '../ir/proxy-config.ts';
import type { TranslatedPart } from '../ir/translate.ts';

export interface TypeState {
  version: string;
  nonce: string;
  appliedAt: Date;
}

export interface ConfigStore {
  /** The complete configuration, or undefined while any type is missing: then every request is denied. */
  current(): ProxyConfig | undefined;
  /** True once a complete configuration has been applied; never reset. */
  ready(): boolean;
  /** Applies one validated part. The swap is a single assignment, so readers never see a mix. */
  apply(part: TranslatedPart, version: string, nonce: string): void;
  /** The applied version per type (for ACKs, reconnects and the admin dump). */
  versions(): Partial<Record<ResourceKind, TypeState>>;
  /** Called after each swap. */
  onChange(listener: (config: ProxyConfig | undefined) => void): void;
}

export function createConfigStore(): ConfigStore {
  const parts: Partial<{ [K in TranslatedPart['kind']]: Extract<TranslatedPart, { kind: K }>['value'] }> = {};
  const states: Partial<Record<ResourceKind, TypeState>> = {};
  const listeners: Array<(config: ProxyConfig | undefined) => void> = [];
  let config: ProxyConfig | undefined;
  let latched = false;

  return {
    current: () => config,
    ready: () => latched,
    apply(part, version, nonce) {
      (parts as Record<string, unknown>)[part.kind] = part.value;
      states[part.kind] = { version, nonce, appliedAt: new Date() };
      const { trust, upstream, policy, audit } = parts;
      config = trust && upstream && policy && audit ? { trust, upstream, policy, audit } : undefined;
      if (config) latched = true;
      for (const l of listeners) l(config);
    },
    versions: () => ({ ...states }),
    onChange(listener) {
      listeners.push(listener);
    },
  };
}
