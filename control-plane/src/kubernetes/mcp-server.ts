/**
 * The `MCPServer` custom resource (`tessera.dev/v1alpha1`) as TypeScript, and the names the
 * controller stamps on what it creates. The schema itself, with its validation rules, is
 * `crds/tessera.dev_mcpservers.yaml`; the API server enforces it before the controller sees an object.
 *
 * @module
 */
import type { KubernetesObject, V1Condition } from '@kubernetes/client-node';

export const GROUP = 'tessera.dev';
export const VERSION = 'v1alpha1';
export const PLURAL = 'mcpservers';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'MCPServer';

/** The controller's field manager for server-side apply. */
export const FIELD_MANAGER = 'tessera-controller';
/** Removed only after the controller has deleted what it owns (there may be no garbage collector). */
export const FINALIZER = 'tessera.dev/cleanup';
/** On every owned object and pod: the server it belongs to. */
export const SERVER_LABEL = 'tessera.dev/server';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = 'tessera';
/** The proxy's named port: Services target it and NetworkPolicies open only it. */
export const PROXY_PORT_NAME = 'mcp-proxy';
export const PROXY_PORT = 15001;
/** Audience of the projected service-account token a proxy presents to the mesh. */
export const MESH_AUDIENCE = 'tessera-mesh';

export interface EnvVar {
  name: string;
  value?: string;
  secretKeyRef?: { name: string; key: string };
}

export interface McpServerSpec {
  description?: string;
  container?: {
    image: string;
    imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
    command?: string[];
    args?: string[];
    port?: number;
    path?: string;
  };
  stdio?: {
    runtime: 'node' | 'python';
    image?: string;
    command: string;
    args?: string[];
    maxSessions?: number;
  };
  /** `transport: 'sse'`: the server speaks only the deprecated HTTP+SSE transport; `url` is its SSE URL. */
  remote?: { url: string; transport?: 'streamable-http' | 'sse' };
  env?: EnvVar[];
  envFromSecrets?: string[];
  resources?: { requests?: Record<string, string | number>; limits?: Record<string, string | number> };
  replicas?: number;
  access?: { grants?: { users?: string[]; groups?: string[] }; policyRef?: { name: string } };
}

export type Upstream = 'container' | 'stdio' | 'remote';

export interface McpServerStatus {
  observedGeneration?: number;
  upstream?: Upstream;
  endpoint?: string;
  replicas?: number;
  availableReplicas?: number;
  conditions?: V1Condition[];
}

export interface McpServer extends KubernetesObject {
  spec: McpServerSpec;
  status?: McpServerStatus;
}

/** Which of the three upstream kinds the spec declares (the CRD guarantees exactly one). */
export function upstreamOf(spec: McpServerSpec): Upstream {
  if (spec.container) return 'container';
  if (spec.stdio) return 'stdio';
  return 'remote';
}
