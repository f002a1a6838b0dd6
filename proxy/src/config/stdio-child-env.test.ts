import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stdioChildEnvNames } from './stdio-child-env.ts';

test('a stdio server inherits its own variables and the usual ones, never the proxy settings or tuning', () => {
  const names = stdioChildEnvNames({
    PATH: '/usr/bin',
    HOME: '/home/app',
    GITHUB_TOKEN: 'ghp_x',
    DATABASE_URL: 'postgres://db',
    NODE_OPTIONS: '--max-old-space-size=256',
    TESSERA_MESH_TOKEN: 'secret',
    TESSERA_PROXY_STDIO_COMMAND: 'npx',
    NODE_COMPILE_CACHE: '/app/.compile-cache',
    MALLOC_MMAP_THRESHOLD_: '8192',
    UNSET: undefined,
  });
  assert.deepEqual(names, ['DATABASE_URL', 'GITHUB_TOKEN', 'HOME', 'NODE_OPTIONS', 'PATH']);
});
