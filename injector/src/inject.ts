/**
 * The injector's core: decide, render, apply, diff. Pure and synchronous, shared by the webhook and
 * the CLI.
 *
 * @module
 */
import type { Decision } from './decide.ts';
import { ANNOTATIONS, decide, MCP_PORT_NAME } from './decide.ts';
import type { JsonValue, PatchOperation } from './json-patch.ts';
import { createPatch } from './json-patch.ts';
import type { Container, Pod } from './pod.ts';
import { isRecord } from './pod.ts';
import type { SidecarConfig } from './render.ts';
import { renderProxyContainer, renderVolumes, templateHash } from './render.ts';

export interface InjectOptions {
  /** Labels of the pod's namespace (the AdmissionReview does not carry them). */
  namespaceLabels: Readonly<Record<string, string>>;
  sidecar: SidecarConfig;
}

export interface InjectResult {
  decision: Decision;
  /** The pod as it should be stored; the input itself when nothing is injected. */
  pod: unknown;
  /** What turns the input into `pod`; empty when nothing is injected. */
  patch: PatchOperation[];
}

/** The application's own name for the port the proxy now fronts. */
export const APP_PORT_NAME = 'mcp-app';

/**
 * Probes of the application that name the "mcp" port would lose it once the port is renamed, so they
 * get its number instead.
 */
function pinProbePorts(app: Container, port: number): void {
  for (const key of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
    const probe = app[key];
    if (!isRecord(probe)) continue;
    for (const handler of [probe.httpGet, probe.tcpSocket]) {
      if (isRecord(handler) && handler.port === MCP_PORT_NAME) handler.port = port;
    }
  }
}

/**
 * Injects the proxy into a pod.
 *
 * 1. `decide` reads the pod; a pod that is not injected comes back as it was, with the reasons.
 * 2. The application's "mcp" port is renamed, so a Service or probe naming it can no longer reach the
 *    application past the proxy; the proxy's port is named "mcp-proxy".
 * 3. The proxy goes first: among init containers as a native sidecar, else among containers, so it
 *    starts before the others. Its volumes are appended.
 * 4. The status annotation marks the pod, which makes a second injection a no-op.
 * 5. The patch is the difference between the input and the result.
 */
export function injectPod(value: unknown, options: InjectOptions): InjectResult {
  const decision = decide(value, options.namespaceLabels);
  if (!decision.inject) return { decision, pod: value, patch: [] };
  const { target } = decision;
  const pod = structuredClone(value) as Pod;

  const app = pod.spec.containers[target.containerIndex]!;
  for (const port of app.ports ?? []) {
    if (port.name === MCP_PORT_NAME) port.name = APP_PORT_NAME;
  }
  pinProbePorts(app, target.port);

  const proxy = renderProxyContainer(target, options.sidecar);
  if (options.sidecar.nativeSidecar) pod.spec.initContainers = [proxy, ...(pod.spec.initContainers ?? [])];
  else pod.spec.containers = [proxy, ...pod.spec.containers];
  pod.spec.volumes = [...(pod.spec.volumes ?? []), ...renderVolumes()];

  pod.metadata = pod.metadata ?? {};
  const annotations = { ...(pod.metadata.annotations ?? {}) };
  annotations[ANNOTATIONS.injected] = templateHash(options.sidecar);
  // kubectl logs/exec default to the first container, which is now the proxy in the fallback layout.
  annotations['kubectl.kubernetes.io/default-container'] ??= app.name;
  pod.metadata.annotations = annotations;

  return { decision, pod, patch: createPatch(value as JsonValue, pod as unknown as JsonValue) };
}
