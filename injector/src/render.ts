/**
 * The sidecar template: the proxy container and its volumes for one pod. Everything the proxy needs
 * at start comes from here (bootstrap through the downward API, the mesh token as a projected
 * service-account token, emptyDirs for the configuration snapshot and the audit spool), so a proxy
 * starts without asking anyone.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { Target } from './decide.ts';
import { LABELS, PROXY_CONTAINER_NAME, PROXY_PORT, PROXY_PORT_NAME, VOLUME_NAMES } from './decide.ts';
import type { JsonValue } from './json-patch.ts';
import type { Container } from './pod.ts';

/** What the injector's own configuration contributes to every sidecar. */
export interface SidecarConfig {
  proxyImage: string;
  /** The control plane's mesh endpoint, e.g. http://tessera-mesh.tessera-system.svc:15010. */
  meshAddress: string;
  /** Kubernetes 1.29+: the proxy is an init container with restartPolicy Always. */
  nativeSidecar: boolean;
}

/** Bumped whenever the template below changes shape, so the status annotation changes with it. */
const TEMPLATE_VERSION = 1;

/** The audience of the projected token; the control plane accepts mesh tokens only for it. */
export const MESH_AUDIENCE = 'tessera-mesh';
const TOKEN_DIR = '/var/run/secrets/tessera.dev/mesh';
const SNAPSHOT_DIR = '/var/lib/tessera/snapshot';
const SPOOL_DIR = '/var/lib/tessera/audit-spool';
/** The proxy's spool default is 64 MiB; the volume leaves room above it before the kubelet evicts. */
const SPOOL_SIZE_LIMIT = '96Mi';
/** A non-root UID that exists in distroless images; restricted Pod Security forbids UID 0. */
const PROXY_UID = 65532;

/** The value of the status annotation: a hash of everything that shapes the injected sidecar. */
export function templateHash(config: SidecarConfig): string {
  const input = JSON.stringify([
    TEMPLATE_VERSION,
    config.proxyImage,
    config.meshAddress,
    config.nativeSidecar,
  ]);
  return createHash('sha256').update(input).digest('hex').slice(0, 16);
}

function fieldEnv(name: string, fieldPath: string): JsonValue {
  return { name, valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath } } };
}

function httpProbe(path: string, extra: Record<string, JsonValue>): JsonValue {
  return { httpGet: { path, port: PROXY_PORT_NAME }, periodSeconds: 2, timeoutSeconds: 2, ...extra };
}

/**
 * The proxy container. As a native sidecar its startup probe holds the application's containers back
 * until the proxy listens; as a plain container (older clusters) no such ordering exists.
 */
export function renderProxyContainer(target: Target, config: SidecarConfig): Container {
  const container: Container = {
    name: PROXY_CONTAINER_NAME,
    image: config.proxyImage,
    ports: [{ name: PROXY_PORT_NAME, containerPort: PROXY_PORT, protocol: 'TCP' }],
    env: [
      fieldEnv('TESSERA_POD_NAME', 'metadata.name'),
      fieldEnv('TESSERA_POD_NAMESPACE', 'metadata.namespace'),
      { name: 'TESSERA_PROXY_MODE', value: 'sidecar' },
      fieldEnv('TESSERA_PROXY_SERVER', `metadata.labels['${LABELS.server}']`),
      // $(VAR) expands earlier entries: pod names repeat across namespaces, the pair does not.
      { name: 'TESSERA_PROXY_NODE_ID', value: '$(TESSERA_POD_NAME).$(TESSERA_POD_NAMESPACE)' },
      { name: 'TESSERA_PROXY_LISTEN', value: `0.0.0.0:${PROXY_PORT}` },
      { name: 'TESSERA_PROXY_UPSTREAM_URL', value: `http://127.0.0.1:${target.port}${target.path}` },
      { name: 'TESSERA_CONTROL_PLANE_URL', value: config.meshAddress },
      { name: 'TESSERA_MESH_TOKEN_FILE', value: `${TOKEN_DIR}/token` },
      { name: 'TESSERA_PROXY_SNAPSHOT_DIR', value: SNAPSHOT_DIR },
      { name: 'TESSERA_PROXY_AUDIT_SPOOL_DIR', value: SPOOL_DIR },
      // Only when asked for, so that the pods of earlier injections and of the default look alike.
      ...(target.auditDurability === 'disk'
        ? [{ name: 'TESSERA_PROXY_AUDIT_DURABILITY', value: 'disk' }]
        : []),
    ],
    volumeMounts: [
      { name: VOLUME_NAMES.meshToken, mountPath: TOKEN_DIR, readOnly: true },
      { name: VOLUME_NAMES.snapshot, mountPath: SNAPSHOT_DIR },
      { name: VOLUME_NAMES.auditSpool, mountPath: SPOOL_DIR },
    ],
    readinessProbe: httpProbe('/readyz', { failureThreshold: 3 }),
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      runAsUser: PROXY_UID,
      runAsGroup: PROXY_UID,
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
  if (config.nativeSidecar) {
    container.restartPolicy = 'Always';
    container.startupProbe = httpProbe('/healthz', { failureThreshold: 30 });
  }
  return container;
}

/** The proxy's volumes: its mesh identity and two scratch directories that outlive container restarts. */
export function renderVolumes(): { name: string; [key: string]: JsonValue }[] {
  return [
    {
      name: VOLUME_NAMES.meshToken,
      projected: {
        // 0444: only the proxy mounts the volume, and it runs as a UID that may differ from the pod's.
        defaultMode: 0o444,
        sources: [
          { serviceAccountToken: { audience: MESH_AUDIENCE, expirationSeconds: 3600, path: 'token' } },
        ],
      },
    },
    { name: VOLUME_NAMES.snapshot, emptyDir: { sizeLimit: '16Mi' } },
    { name: VOLUME_NAMES.auditSpool, emptyDir: { sizeLimit: SPOOL_SIZE_LIMIT } },
  ];
}
