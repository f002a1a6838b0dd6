/**
 * MCPServer → the objects that run it. Pure: the same server and options always give the same
 * objects, which the controller applies with server-side apply (golden tests in
 * `control-plane/testdata/kubernetes/`).
 *
 * Per server, in its namespace, named after the server and controlled by it:
 * - ServiceAccount `tessera-<name>`: the pod's identity; its projected token (audience
 *   `tessera-mesh`) is what the proxy presents to the mesh, which maps it to server `<name>`.
 * - Deployment:
 *   - container: the server's image; the injector adds the proxy beside it (label
 *     `tessera.dev/inject=true`), which finds the server by its port named `mcp` and the
 *     `tessera.dev/mcp-path` annotation.
 *   - stdio: the runner image, whose entrypoint is the proxy in stdio mode (no injection).
 *   - remote: the proxy image in egress mode: one Deployment per remote server, shared by all of its
 *     users, so cost does not grow with users.
 * - Service: `<name>.<namespace>.svc.<cluster domain>` port 80 → the proxy's named port `mcp-proxy`.
 * - NetworkPolicy: ingress to the server's pods only on `mcp-proxy`; the server's own port stays
 *   private to the pod.
 *
 * @module
 */
import type {
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1NetworkPolicy,
  V1OwnerReference,
  V1Service,
  V1ServiceAccount,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import {
  API_VERSION,
  KIND,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  type McpServer,
  MESH_AUDIENCE,
  PROXY_PORT,
  PROXY_PORT_NAME,
  SERVER_LABEL,
  upstreamOf,
} from './mcp-server.ts';

export interface RenderOptions {
  /** The proxy image: egress proxies run it. */
  proxyImage: string;
  /** Runner images for stdio servers, by runtime. */
  runnerImages: { node: string; python: string };
  /** The control plane's mesh URL, as proxies in the cluster reach it. */
  meshAddress: string;
  /** Usually `cluster.local`. */
  clusterDomain: string;
}

export interface RenderedServer {
  serviceAccount: V1ServiceAccount;
  deployment: V1Deployment;
  service: V1Service;
  networkPolicy: V1NetworkPolicy;
}

const TOKEN_DIR = '/var/run/secrets/tessera';
const STATE_DIR = '/var/lib/tessera';

/** `http://<name>.<namespace>.svc.<domain>/mcp`: where clients inside the cluster reach the server. */
export function meshEndpoint(server: McpServer, clusterDomain: string): string {
  return `http://${server.metadata?.name}.${server.metadata?.namespace}.svc.${clusterDomain}/mcp`;
}

/**
 * `tessera-<name>`: the mesh maps a service account of that name to server `<name>` when it reviews
 * a proxy's token, so the name is the contract between this controller and mesh authentication.
 */
export function serviceAccountName(server: string): string {
  return `tessera-${server}`;
}

/** Labels on every object the controller creates for `name`; the selector uses only the last. */
export function ownedLabels(name: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': name,
    'app.kubernetes.io/component': 'mcp-server',
    [MANAGED_BY_LABEL]: MANAGED_BY,
    [SERVER_LABEL]: name,
  };
}

export function renderServer(server: McpServer, options: RenderOptions): RenderedServer {
  const name = server.metadata?.name;
  const namespace = server.metadata?.namespace;
  const uid = server.metadata?.uid;
  if (!name || !namespace || !uid) throw new TypeError('an MCPServer needs metadata.name, namespace and uid');
  const owner: V1OwnerReference = {
    apiVersion: API_VERSION,
    kind: KIND,
    name,
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
  const metadata = { name, namespace, labels: ownedLabels(name), ownerReferences: [owner] };
  return {
    serviceAccount: {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { ...metadata, name: serviceAccountName(name) },
      // Only the projected mesh token is mounted, never the API token: MCP servers do not talk to
      // the Kubernetes API.
      automountServiceAccountToken: false,
    },
    deployment: renderDeployment(server, metadata, options),
    service: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata,
      spec: {
        type: 'ClusterIP',
        selector: { [SERVER_LABEL]: name },
        ports: [
          { name: 'http', port: 80, targetPort: PROXY_PORT_NAME, protocol: 'TCP', appProtocol: 'http' },
        ],
      },
    },
    networkPolicy: {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata,
      spec: {
        podSelector: { matchLabels: { [SERVER_LABEL]: name } },
        policyTypes: ['Ingress'],
        ingress: [{ ports: [{ protocol: 'TCP', port: PROXY_PORT_NAME }] }],
      },
    },
  };
}

function renderDeployment(
  server: McpServer,
  metadata: V1Deployment['metadata'] & { name: string },
  options: RenderOptions,
): V1Deployment {
  const { spec } = server;
  const upstream = upstreamOf(spec);
  const name = metadata.name;
  const podLabels: Record<string, string> = { ...ownedLabels(name) };
  const annotations: Record<string, string> = {};
  const volumes: V1Volume[] = [];
  let container: V1Container;
  if (upstream === 'container' && spec.container) {
    const c = spec.container;
    const port = c.port ?? 8080;
    podLabels['tessera.dev/inject'] = 'true';
    // The injector finds the server by its port named "mcp" and this path.
    annotations['tessera.dev/mcp-path'] = c.path ?? '/mcp';
    container = {
      name: 'mcp-server',
      image: c.image,
      ...(c.imagePullPolicy ? { imagePullPolicy: c.imagePullPolicy } : {}),
      ...(c.command ? { command: c.command } : {}),
      ...(c.args ? { args: c.args } : {}),
      ports: [{ name: 'mcp', containerPort: port, protocol: 'TCP' }],
      env: serverEnv(server),
      securityContext: restricted(false),
    };
  } else {
    // stdio and remote pods run the proxy as their only container: the injector must leave them be.
    annotations['tessera.dev/inject'] = 'false';
    volumes.push(
      {
        name: 'mesh-token',
        projected: {
          sources: [
            { serviceAccountToken: { audience: MESH_AUDIENCE, expirationSeconds: 3600, path: 'mesh-token' } },
          ],
        },
      },
      { name: 'proxy-state', emptyDir: {} },
      { name: 'tmp', emptyDir: {} },
    );
    const mounts: V1VolumeMount[] = [
      { name: 'mesh-token', mountPath: TOKEN_DIR, readOnly: true },
      { name: 'proxy-state', mountPath: STATE_DIR },
      { name: 'tmp', mountPath: '/tmp' },
    ];
    const proxyEnv: V1EnvVar[] = [
      { name: 'TESSERA_PROXY_SERVER', value: name },
      { name: 'TESSERA_PROXY_LISTEN', value: `0.0.0.0:${PROXY_PORT}` },
      { name: 'TESSERA_CONTROL_PLANE_URL', value: options.meshAddress },
      { name: 'TESSERA_MESH_TOKEN_FILE', value: `${TOKEN_DIR}/mesh-token` },
      { name: 'TESSERA_PROXY_SNAPSHOT_DIR', value: `${STATE_DIR}/snapshot` },
      { name: 'TESSERA_PROXY_AUDIT_SPOOL_DIR', value: `${STATE_DIR}/audit-spool` },
    ];
    if (upstream === 'stdio' && spec.stdio) {
      const s = spec.stdio;
      proxyEnv.unshift(
        { name: 'TESSERA_PROXY_MODE', value: 'stdio' },
        { name: 'TESSERA_PROXY_STDIO_COMMAND', value: s.command },
        { name: 'TESSERA_PROXY_STDIO_ARGS', value: JSON.stringify(s.args ?? []) },
      );
      if (s.maxSessions)
        proxyEnv.push({ name: 'TESSERA_PROXY_STDIO_MAX_SESSIONS', value: String(s.maxSessions) });
    } else if (spec.remote) {
      proxyEnv.unshift(
        { name: 'TESSERA_PROXY_MODE', value: 'egress' },
        { name: 'TESSERA_PROXY_UPSTREAM_URL', value: spec.remote.url },
      );
      if (spec.remote.transport === 'sse')
        proxyEnv.push({ name: 'TESSERA_PROXY_UPSTREAM_TRANSPORT', value: 'sse' });
    }
    container = {
      name: 'proxy',
      image:
        upstream === 'stdio' && spec.stdio
          ? (spec.stdio.image ?? options.runnerImages[spec.stdio.runtime])
          : options.proxyImage,
      ports: [{ name: PROXY_PORT_NAME, containerPort: PROXY_PORT, protocol: 'TCP' }],
      // The server's own variables first: the proxy's settings must win over a clash.
      env: [...serverEnv(server), ...proxyEnv],
      volumeMounts: mounts,
      readinessProbe: { httpGet: { path: '/readyz', port: PROXY_PORT_NAME }, periodSeconds: 5 },
      livenessProbe: { httpGet: { path: '/healthz', port: PROXY_PORT_NAME }, periodSeconds: 10 },
      // A stdio child may write caches (npx, uv) under $HOME, so only egress proxies get a read-only root.
      securityContext: restricted(upstream === 'remote'),
    };
  }
  if (spec.envFromSecrets?.length)
    container.envFrom = spec.envFromSecrets.map((n) => ({ secretRef: { name: n } }));
  if (spec.resources) container.resources = spec.resources as V1Container['resources'];
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata,
    spec: {
      replicas: spec.replicas ?? 1,
      selector: { matchLabels: { [SERVER_LABEL]: name } },
      template: {
        metadata: { labels: podLabels, annotations },
        spec: {
          serviceAccountName: serviceAccountName(name),
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [container],
          ...(volumes.length ? { volumes } : {}),
        },
      },
    },
  };
}

function serverEnv(server: McpServer): V1EnvVar[] {
  return (server.spec.env ?? []).map((e) =>
    e.secretKeyRef
      ? { name: e.name, valueFrom: { secretKeyRef: { name: e.secretKeyRef.name, key: e.secretKeyRef.key } } }
      : { name: e.name, value: e.value ?? '' },
  );
}

function restricted(readOnlyRootFilesystem: boolean): V1Container['securityContext'] {
  return { allowPrivilegeEscalation: false, readOnlyRootFilesystem, capabilities: { drop: ['ALL'] } };
}
