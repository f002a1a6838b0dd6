/** The README's contract: every control-plane setting is documented there. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { settingsDoc } from '../src/config.ts';

test('every control-plane environment variable has a row in the README', () => {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const missing = settingsDoc
    .map(([name]) => name)
    .filter((name) => !new RegExp(`^\\| \`${name}\``, 'm').test(readme));
  assert.deepEqual(missing, []);
});
