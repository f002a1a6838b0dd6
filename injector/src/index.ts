/**
 * @tessera/injector: the mutating webhook that adds the Tessera proxy to MCP server pods.
 *
 * @module
 */

export type { InjectorConfig } from './config.ts';
export { readConfig, settings } from './config.ts';
export type { Decision, SkipReason, Target } from './decide.ts';
export { ANNOTATIONS, decide, explain, LABELS, SKIP_REASONS } from './decide.ts';
export type { InjectOptions, InjectResult } from './inject.ts';
export { injectPod } from './inject.ts';
export type { Injector, InjectorOptions } from './injector.ts';
export { startInjector } from './injector.ts';
// Library-facing: the pieces the webhook is built from.
export type { JsonValue, PatchOperation } from './json-patch.ts';
export { applyPatch, createPatch } from './json-patch.ts';
export type { SidecarConfig } from './render.ts';
