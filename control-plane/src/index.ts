/**
 * The control plane's public surface, for embedding and tests.
 *
 * @module
 */
export { type BuildOptions, build, type ControlPlane } from './app.ts';
export { readSettings, type Settings, settingsDoc } from './config.ts';
export { type Running, runControlPlane } from './run.ts';
