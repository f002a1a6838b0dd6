/**
 * MCPServer → the control plane's server registry, so that the mesh configures the server's proxies
 * (resource URI, upstream, grants) from the custom resource. `toServerInput` is pure; the sink writes.
 *
 * Limits of today's registry, which this follows rather than hides:
 * - Registry names are global, so `MCPServer`s of the same name in two namespaces share one entry
 *   (the last reconciled wins); give servers cluster-unique names.
 * - The registry knows `http` and `stdio` servers; a remote server is registered as `http` with its
 *   remote URL, which is what its egress proxy forwards to.
 * - A `policyRef` registers no grants (deny by default) until policies exist in the control plane.
 * - The registry cannot delete: a deleted `MCPServer` keeps its entry with every grant removed.
 *
 * @module
 */
import type { ServerInput } from '../catalog/server-input.ts';
import type { ServerRegistry } from '../catalog/server-registry.ts';
import type { McpServer } from './mcp-server.ts';

export interface RegistrySink {
  /** Registers or updates the server, with `endpoint` as its resource URI. */
  upsert(server: McpServer, endpoint: string): Promise<void>;
  /** The server is gone: nobody may use it any more. */
  release(name: string): Promise<void>;
}

export function toServerInput(server: McpServer, endpoint: string): ServerInput {
  const { spec } = server;
  const grants = spec.access?.grants;
  const base = {
    name: server.metadata?.name as string,
    resourceUri: endpoint,
    localPort: null,
    grantUsers: [...new Set(grants?.users ?? [])],
    grantGroups: [...new Set(grants?.groups ?? [])],
  };
  if (spec.stdio)
    return { ...base, kind: 'stdio', command: spec.stdio.command, args: spec.stdio.args ?? [], url: null };
  const url = spec.container
    ? `http://127.0.0.1:${spec.container.port ?? 8080}${spec.container.path ?? '/mcp'}`
    : (spec.remote?.url as string);
  return { ...base, kind: spec.remote?.transport === 'sse' ? 'sse' : 'http', command: null, args: [], url };
}

export function registrySink(registry: ServerRegistry): RegistrySink {
  return {
    async upsert(server, endpoint) {
      await registry.upsert(toServerInput(server, endpoint));
    },
    async release(name) {
      if (await registry.get(name)) await registry.setGrants(name, { grantUsers: [], grantGroups: [] });
    },
  };
}
