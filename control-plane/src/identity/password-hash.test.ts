import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashPassword, MAX_PASSWORD_BYTES, verifyPassword } from './password-hash.ts';

test('an argon2id hash verifies its password and no other', async () => {
  const stored = await hashPassword('correct horse');
  assert.match(stored, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$[\w-]+\$[\w-]+$/);
  assert.equal(await verifyPassword('correct horse', stored), true);
  assert.equal(await verifyPassword('correct horsE', stored), false);
  assert.equal(await verifyPassword('', stored), false);
  assert.notEqual(await hashPassword('correct horse'), stored, 'every hash has its own salt');
});

test('malformed stored values and over-long passwords never verify', async () => {
  const stored = await hashPassword('pw');
  assert.equal(await verifyPassword('pw', stored.replace('argon2id', 'argon2i')), false);
  assert.equal(await verifyPassword('pw', ''), false);
  assert.equal(await verifyPassword('pw', 'plain:pw'), false);
  assert.equal(await verifyPassword('x'.repeat(MAX_PASSWORD_BYTES + 1), stored), false);
  await assert.rejects(hashPassword('x'.repeat(MAX_PASSWORD_BYTES + 1)), /too long/);
});
