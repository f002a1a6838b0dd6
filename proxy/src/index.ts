/**
 * The proxy's public surface, for embedding a proxy in another process (tests, local mode).
 *
 * @module
 */

export { type Bootstrap, readBootstrap, settings } from './config/bootstrap.ts';
export { createProxy, PROXY_VERSION, type Proxy } from './proxy.ts';
