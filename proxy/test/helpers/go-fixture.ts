/**
 * Where the tests find a Go fixture binary (`fixtures/<name>/`, built by
 * `fixtures/build-go-fixture.sh` into a cache outside the repo). `.ci/run` builds each one and passes
 * its path in an environment variable, so that its tests cannot skip in CI; elsewhere it is built on
 * first use, and its tests skip when Go is not installed.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

/** The fixture's binary: `process.env[envVar]`, else built now; undefined when Go is not installed. */
export function goFixture(name: string, envVar: string): string | undefined {
  if (process.env[envVar]) return process.env[envVar];
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
  } catch {
    return undefined;
  }
  const script = join(import.meta.dirname, '..', 'fixtures', 'build-go-fixture.sh');
  return execFileSync('bash', [script, name], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}
