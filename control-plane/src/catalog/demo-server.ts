/**
 * The demo server registered by `tessera start`: `@modelcontextprotocol/server-everything` over
 * stdio, granted to the bootstrap administrator.
 *
 * @module
 */
import { fileURLToPath } from 'node:url';
import type { ServerInput } from './server-input.ts';

export const DEMO_SERVER = 'everything';

export function demoServerInput(options: { adminEmail: string; port: number }): ServerInput {
  const entry = fileURLToPath(import.meta.resolve('@modelcontextprotocol/server-everything/dist/index.js'));
  return {
    name: DEMO_SERVER,
    kind: 'stdio',
    command: process.execPath,
    args: [entry, 'stdio'],
    url: null,
    resourceUri: `http://127.0.0.1:${options.port}/mcp`,
    localPort: options.port,
    grantUsers: [options.adminEmail],
    grantGroups: [],
  };
}
