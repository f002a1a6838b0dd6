/**
 * Where the tests find the Python MCP SDK: a virtualenv that `.ci/run` installs outside the repo,
 * keyed by version (or `TESSERA_PYTHON`). Tests that need it skip without it, except in CI.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Keep in step with PY_MCP_VERSION in .ci/run. */
export const PY_MCP_VERSION = '2.3.0';

/** The virtualenv's interpreter, with `mcp` installed. */
export const python =
  process.env.TESSERA_PYTHON ??
  join(homedir(), '.cache', 'tessera', `py-mcp-${PY_MCP_VERSION}`, 'bin', 'python');

/** A `skip` option for `node:test`: false when the SDK is there (or in CI, where it must be). */
export const pythonSkip: string | false =
  existsSync(python) || process.env.CI === 'true'
    ? false
    : `no Python MCP SDK at ${python} (bash .ci/run installs it)`;
