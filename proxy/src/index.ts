/**
 * The proxy's public surface, for embedding a proxy in another process (tests, local mode).
 *
 * @module
 */
export { createProxy, type Proxy, PROXY_VERSION } from './proxy.ts';
export { type Bootstrap, readBootstrap, settings } from './config/bootstrap.ts';
