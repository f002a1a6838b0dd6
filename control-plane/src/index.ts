/**
 * The control plane's public surface, for embedding and tests.
 *
 * @module
 */
export { build, type BuildOptions, type ControlPlane } from './app.ts';
export { readSettings, type Settings, settingsDoc } from './config.ts';
export { runControlPlane, type Running } from './run.ts';
