/** The README's contract: every proxy setting is documented there. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { settings } from '../src/config/bootstrap.ts';

test('every proxy environment variable has a row in the README', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const missing = Object.keys(settings).filter((name) => !new RegExp(`^\\| \`${name}\``, 'm').test(readme));
  assert.deepEqual(missing, []);
});
