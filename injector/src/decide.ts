/**
 * Whether a pod gets the proxy, and if not, why. Pure: the namespace's labels are passed in, so the
 * same decision backs the webhook, the CLI and the tests (istio `injectRequired`, linkerd `Report`).
 *
 * @module
 */
import type { Container, Pod } from './pod.ts';
import { podShapeProblem } from './pod.ts';

/** Labels and annotations the injector reads and writes; the README documents each. */
export const LABELS = {
  namespaceInjection: 'tessera.dev/injection',
  podInject: 'tessera.dev/inject',
  server: 'tessera.dev/server',
} as const;

export const ANNOTATIONS = {
  inject: 'tessera.dev/inject',
  mcpPort: 'tessera.dev/mcp-port',
  mcpPath: 'tessera.dev/mcp-path',
  auditDurability: 'tessera.dev/audit-durability',
  injected: 'tessera.dev/injected',
} as const;

/** The proxy's fixed port and its name; Services target the name. */
export const PROXY_PORT = 15001;
export const PROXY_PORT_NAME = 'mcp-proxy';
/** The name of the application's port the proxy takes over. */
export const MCP_PORT_NAME = 'mcp';

export const PROXY_CONTAINER_NAME = 'tessera-proxy';
export const VOLUME_NAMES = {
  meshToken: 'tessera-mesh-token',
  snapshot: 'tessera-snapshot',
  auditSpool: 'tessera-audit-spool',
} as const;

/** Why a pod is left alone: snake_case codes, stable for metrics and events, each with a sentence. */
export const SKIP_REASONS = {
  invalid_pod: 'the object is not a pod the injector can read',
  not_enabled: `neither the namespace label ${LABELS.namespaceInjection}=enabled nor the pod label ${LABELS.podInject}=true is set`,
  opted_out: `the pod is annotated ${ANNOTATIONS.inject}: "false"`,
  already_injected: `the pod already carries the ${ANNOTATIONS.injected} annotation`,
  host_network: 'the pod uses the host network, where the proxy port would collide between pods',
  no_mcp_port: `no container port is named "${MCP_PORT_NAME}" and there is no ${ANNOTATIONS.mcpPort} annotation`,
  invalid_mcp_port: `the ${ANNOTATIONS.mcpPort} annotation is neither a port number (1-65535) nor the name of a container port`,
  invalid_mcp_path: `the ${ANNOTATIONS.mcpPath} annotation must be an absolute URL path`,
  invalid_audit_durability: `the ${ANNOTATIONS.auditDurability} annotation must be "process" or "disk"`,
  proxy_port_conflict: `a container already uses port ${PROXY_PORT}, the proxy's port`,
  missing_server_label: `the pod label ${LABELS.server} (the MCP server's name, a DNS label) is missing or invalid`,
  name_conflict: `a container named ${PROXY_CONTAINER_NAME} or a volume named tessera-* already exists`,
} as const;

export type SkipReason = keyof typeof SKIP_REASONS;

/** Reasons that mean "not asked for" rather than "asked for but impossible". */
const QUIET_REASONS: ReadonlySet<SkipReason> = new Set(['not_enabled', 'opted_out', 'already_injected']);

/** True when the pod asked for injection and did not get it, which deserves a warning to the user. */
export function isProblem(reason: SkipReason): boolean {
  return !QUIET_REASONS.has(reason);
}

/** Where the proxy forwards to, resolved from the pod. */
export interface Target {
  server: string;
  /** Index in spec.containers of the application container, which owns the MCP port. */
  containerIndex: number;
  port: number;
  path: string;
  /** The proxy's TESSERA_PROXY_AUDIT_DURABILITY, from the annotation (default `process`). */
  auditDurability: 'process' | 'disk';
}

export type Decision =
  | { inject: true; target: Target }
  | { inject: false; reasons: SkipReason[]; detail?: string };

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
const URL_PATH = /^\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$/;

function findPort(containers: Container[], match: (name: string | undefined, n: number) => boolean) {
  for (const [containerIndex, c] of containers.entries()) {
    for (const p of c.ports ?? []) {
      if (match(p.name ?? undefined, p.containerPort)) return { containerIndex, port: p.containerPort };
    }
  }
  return undefined;
}

/** The MCP port from the annotation (number or port name) or the port named "mcp". */
function resolvePort(pod: Pod): { containerIndex: number; port: number } | SkipReason {
  const containers = pod.spec.containers;
  const annotation = pod.metadata.annotations?.[ANNOTATIONS.mcpPort];
  if (annotation === undefined)
    return findPort(containers, (name) => name === MCP_PORT_NAME) ?? 'no_mcp_port';
  if (/^[1-9]\d{0,4}$/.test(annotation) && Number(annotation) <= 65535) {
    const port = Number(annotation);
    // An undeclared port is allowed: declaring container ports is optional in Kubernetes.
    return findPort(containers, (_, n) => n === port) ?? { containerIndex: 0, port };
  }
  return findPort(containers, (name) => name === annotation) ?? 'invalid_mcp_port';
}

function hasNameConflict(pod: Pod): boolean {
  const containers = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])];
  const volumes: string[] = Object.values(VOLUME_NAMES);
  return (
    containers.some((c) => c.name === PROXY_CONTAINER_NAME) ||
    (pod.spec.volumes ?? []).some((v) => volumes.includes(v.name))
  );
}

/**
 * Decides injection for one pod.
 *
 * 1. A pod the injector cannot read, an opt-out, an earlier injection and a pod nobody asked to
 *    inject are each final, in that order.
 * 2. Otherwise every problem that prevents injection is collected, so one attempt shows them all.
 *
 * @example
 * decide(pod, { 'tessera.dev/injection': 'enabled' }); // { inject: true, target: { port: 8080, … } }
 */
export function decide(value: unknown, namespaceLabels: Readonly<Record<string, string>>): Decision {
  const shape = podShapeProblem(value);
  if (shape) return { inject: false, reasons: ['invalid_pod'], detail: shape };
  const pod = value as Pod;
  const labels = pod.metadata?.labels ?? {};
  const annotations = pod.metadata?.annotations ?? {};
  if (annotations[ANNOTATIONS.inject] === 'false') return { inject: false, reasons: ['opted_out'] };
  if (annotations[ANNOTATIONS.injected] !== undefined)
    return { inject: false, reasons: ['already_injected'] };
  const enabled =
    namespaceLabels[LABELS.namespaceInjection] === 'enabled' || labels[LABELS.podInject] === 'true';
  if (!enabled) return { inject: false, reasons: ['not_enabled'] };

  const reasons: SkipReason[] = [];
  if (pod.spec.hostNetwork === true) reasons.push('host_network');
  const server = labels[LABELS.server] ?? '';
  if (!DNS_LABEL.test(server)) reasons.push('missing_server_label');
  const resolved = resolvePort({ ...pod, metadata: pod.metadata ?? {} });
  if (typeof resolved === 'string') reasons.push(resolved);
  const path = annotations[ANNOTATIONS.mcpPath] ?? '/mcp';
  if (!URL_PATH.test(path)) reasons.push('invalid_mcp_path');
  const durability = annotations[ANNOTATIONS.auditDurability] ?? 'process';
  const auditDurability = durability === 'disk' ? 'disk' : 'process';
  if (durability !== auditDurability) reasons.push('invalid_audit_durability');
  const allContainers = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])];
  if (findPort(allContainers, (_, n) => n === PROXY_PORT)) reasons.push('proxy_port_conflict');
  if (hasNameConflict(pod)) reasons.push('name_conflict');
  if (reasons.length > 0 || typeof resolved === 'string') return { inject: false, reasons };
  return { inject: true, target: { server, path, auditDurability, ...resolved } };
}

/** One line for logs, events and admission warnings. */
export function explain(decision: Decision): string {
  if (decision.inject) return 'injected';
  const sentences = decision.reasons.map((r) => `${r}: ${SKIP_REASONS[r]}`);
  return decision.detail ? `${sentences.join('; ')} (${decision.detail})` : sentences.join('; ');
}
