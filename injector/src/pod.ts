/**
 * The parts of a Kubernetes Pod the injector reads or writes, and a shape check for pods that arrive
 * from outside. Mutating admission runs before the API server validates the object, so nothing about
 * its shape can be assumed; every other field is carried through untouched.
 *
 * @module
 */

export interface ContainerPort {
  name?: string;
  containerPort: number;
  [key: string]: unknown;
}

export interface Container {
  name: string;
  ports?: ContainerPort[];
  [key: string]: unknown;
}

export interface Pod {
  metadata: {
    name?: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  spec: {
    containers: Container[];
    initContainers?: Container[];
    volumes?: { name: string; [key: string]: unknown }[];
    hostNetwork?: boolean;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringMap(v: unknown, where: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) return `${where} must be an object`;
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') return `${where}["${k}"] must be a string`;
  }
  return undefined;
}

function namedList(v: unknown, where: string, required: boolean): string | undefined {
  if (v === undefined || v === null) return required ? `${where} is required` : undefined;
  if (!Array.isArray(v)) return `${where} must be an array`;
  if (required && v.length === 0) return `${where} must not be empty`;
  for (const [i, item] of v.entries()) {
    if (!isRecord(item) || typeof item.name !== 'string') return `${where}[${i}].name must be a string`;
  }
  return undefined;
}

function containerProblem(c: Record<string, unknown>, where: string): string | undefined {
  if (c.ports === undefined || c.ports === null) return undefined;
  if (!Array.isArray(c.ports)) return `${where}.ports must be an array`;
  for (const [i, p] of c.ports.entries()) {
    if (!isRecord(p) || !Number.isInteger(p.containerPort)) {
      return `${where}.ports[${i}].containerPort must be an integer`;
    }
    if (p.name !== undefined && p.name !== null && typeof p.name !== 'string') {
      return `${where}.ports[${i}].name must be a string`;
    }
  }
  return undefined;
}

/**
 * Checks that `value` has the shape the injector relies on.
 *
 * @returns undefined when it does, else a sentence naming the first field that is wrong.
 */
export function podShapeProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'the object must be a JSON object';
  if (value.kind !== undefined && value.kind !== 'Pod')
    return `kind must be Pod, not ${JSON.stringify(value.kind)}`;
  const { metadata, spec } = value;
  if (metadata !== undefined && !isRecord(metadata)) return 'metadata must be an object';
  const meta = (metadata ?? {}) as Record<string, unknown>;
  const mapProblem =
    stringMap(meta.labels, 'metadata.labels') ?? stringMap(meta.annotations, 'metadata.annotations');
  if (mapProblem) return mapProblem;
  if (!isRecord(spec)) return 'spec must be an object';
  const listProblem =
    namedList(spec.containers, 'spec.containers', true) ??
    namedList(spec.initContainers, 'spec.initContainers', false) ??
    namedList(spec.volumes, 'spec.volumes', false);
  if (listProblem) return listProblem;
  if (spec.hostNetwork !== undefined && spec.hostNetwork !== null && typeof spec.hostNetwork !== 'boolean') {
    return 'spec.hostNetwork must be a boolean';
  }
  for (const field of ['containers', 'initContainers'] as const) {
    const list = (spec[field] ?? []) as Record<string, unknown>[];
    for (const [i, c] of list.entries()) {
      const problem = containerProblem(c, `spec.${field}[${i}]`);
      if (problem) return problem;
    }
  }
  return undefined;
}
