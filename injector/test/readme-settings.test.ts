/** The README's contract: every injector setting is documented there. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { settings } from '../src/config.ts';
import { ANNOTATIONS, LABELS, SKIP_REASONS } from '../src/decide.ts';

const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');

test('every injector environment variable has a row in the README', () => {
  const missing = Object.keys(settings).filter((name) => !new RegExp(`^\\| \`${name}\``, 'm').test(readme));
  assert.deepEqual(missing, []);
});

test('every label, annotation and skip reason is in the README', () => {
  const names = [...Object.values(LABELS), ...Object.values(ANNOTATIONS), ...Object.keys(SKIP_REASONS)];
  assert.deepEqual(
    names.filter((n) => !readme.includes(`\`${n}\``)),
    [],
  );
});
