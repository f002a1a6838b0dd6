/**
 * Compiles the modules the proxy loads only when its configuration needs them (CEL conditions, egress,
 * stdio and HTTP+SSE upstreams, filter webhooks, undici) into Node's compile cache. Run with `NODE_COMPILE_CACHE`
 * set, after `node proxy/src/main.ts` has compiled the modules every proxy loads: a proxy started with
 * that cache then never strips types or maps the type stripper (~12 MB), whatever it is configured to do.
 *
 * Loading a module here runs nothing but its top-level definitions.
 *
 * @module
 */
await Promise.all([
  import('./policies/cel-condition.ts'),
  import('./egress/egress-from-bootstrap.ts'),
  import('./upstream/sse-legacy-upstream.ts'),
  import('./upstream/stdio-upstream.ts'),
  import('./filters/filter-dispatcher.ts'),
  import('./filters/filter-webhook.ts'),
  import('undici'),
]);
