import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_PASSWORD_BYTES } from './password-hash.ts';
import { passwordProblem } from './password-policy.ts';

test('a password of 12 characters or more that is not the email is accepted', () => {
  assert.equal(passwordProblem('twelve chars', 'a@example.com'), undefined);
  assert.equal(passwordProblem('x'.repeat(MAX_PASSWORD_BYTES), 'a@example.com'), undefined);
});

test('too short, too long, not a string, or the email itself is refused', () => {
  assert.match(passwordProblem('eleven char', 'a@example.com')!, /at least 12/);
  // Counted in characters, not UTF-16 units: four emoji are four characters.
  assert.match(passwordProblem('😀😀😀😀', 'a@example.com')!, /at least 12/);
  assert.match(passwordProblem('x'.repeat(MAX_PASSWORD_BYTES + 1), 'a@example.com')!, /at most/);
  assert.match(passwordProblem('é'.repeat(MAX_PASSWORD_BYTES / 2 + 1), 'a@example.com')!, /at most/);
  assert.match(passwordProblem(123456789012, 'a@example.com')!, /string/);
  assert.match(passwordProblem('Long.Name@Example.com', 'long.name@example.com')!, /email/);
});
