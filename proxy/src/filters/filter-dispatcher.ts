/**
 * Where filter webhooks are called from: an undici `Agent` on the SSRF-guarded connector, the same
 * one the egress upstream uses. A filter URL comes from the control plane's admin API, so a proxy
 * must not let it reach loopback, the pod network or a cloud metadata endpoint unless its own
 * operator allowed that host with `TESSERA_PROXY_FILTER_ALLOW`. Plain http is allowed only to hosts
 * that list names itself; anything else must be https with a verified certificate.
 *
 * The filter allow-list is separate from `TESSERA_PROXY_EGRESS_ALLOW` because filters run in every
 * mode, and a sidecar's filter on 127.0.0.1 should not open the egress upstream to loopback.
 *
 * @module
 */
import { Agent, type Dispatcher } from 'undici';
import { createGuardedConnector } from '../egress/guarded-connect.ts';
import type { AllowList } from '../egress/ssrf-guard.ts';

export { FILTER_ALLOW } from './lazy-filter-dispatcher.ts';

export interface FilterDispatcherOptions {
  allow: AllowList;
  connectTimeoutMs?: number;
}

/**
 * @example
 * const dispatcher = createFilterDispatcher({ allow: parseAllowList(['127.0.0.1'], FILTER_ALLOW).allow });
 */
export function createFilterDispatcher(options: FilterDispatcherOptions): Dispatcher {
  return new Agent({
    connect: createGuardedConnector({
      allow: options.allow,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
      httpToListedHosts: true,
    }),
    keepAliveTimeout: 30_000,
  });
}
