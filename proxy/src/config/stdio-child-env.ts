/**
 * Which of the proxy's environment variables a stdio MCP server inherits. In Kubernetes the server's
 * own variables and Secrets (`MCPServer.spec.env`, `envFromSecrets`) are set on the proxy's container,
 * because the proxy spawns the server there: they are how a stdio server gets its upstream
 * credentials (never the client's token). The proxy's own settings stay with it: every `TESSERA_*`
 * variable (the mesh token among them) and the proxy's runtime tuning.
 *
 * @module
 */

/** The proxy's tuning, set by its image and local mode; not the server's business. */
const PROXY_ONLY = new Set(['NODE_COMPILE_CACHE', 'MALLOC_MMAP_THRESHOLD_']);

/** The names of the variables in `env` that a stdio child inherits, sorted. Pure. */
export function stdioChildEnvNames(env: Readonly<Record<string, string | undefined>>): string[] {
  return Object.keys(env)
    .filter((name) => env[name] !== undefined && !name.startsWith('TESSERA_') && !PROXY_ONLY.has(name))
    .sort();
}
