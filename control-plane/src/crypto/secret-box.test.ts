import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { TesseraError } from '../errors.ts';
import { createLocalKeyProvider, localKeyId } from './local-key-provider.ts';
import { decodeSealed } from './sealed-format.ts';
import { createSecretBox } from './secret-box.ts';

const k1 = randomBytes(32);
const k2 = randomBytes(32);

function rejectsUnreadable(p: Promise<unknown>) {
  return assert.rejects(
    p,
    (err: unknown) => err instanceof TesseraError && err.code === 'TESSERA_SECRET_UNREADABLE',
  );
}

describe('SecretBox with the local key provider', () => {
  const box = createSecretBox({ provider: createLocalKeyProvider([k1]) });

  test('seal then open returns the plaintext; strings and bytes alike', async () => {
    const sealed = await box.seal('s3cret-value', 'ctx/a');
    assert.equal(await box.openText(sealed, 'ctx/a'), 's3cret-value');
    const bytes = randomBytes(1000);
    assert.deepEqual(await box.open(await box.seal(bytes, 'ctx/b'), 'ctx/b'), bytes);
    assert.equal((await box.open(await box.seal('', 'ctx/c'), 'ctx/c')).length, 0);
  });

  test('the sealed bytes hold neither the plaintext nor the data key in clear', async () => {
    const sealed = await box.seal('plaintext-marker-123', 'ctx');
    assert.equal(sealed.includes(Buffer.from('plaintext-marker-123')), false);
    const s = decodeSealed(sealed);
    assert.equal(s.provider, 'local');
    assert.equal(s.keyId, localKeyId(k1));
    assert.equal(sealed.includes(k1), false);
  });

  test('each seal uses a fresh data key and nonce', async () => {
    const a = decodeSealed(await box.seal('same', 'ctx'));
    const b = decodeSealed(await box.seal('same', 'ctx'));
    assert.notDeepEqual(a.wrappedKey, b.wrappedKey);
    assert.notDeepEqual(a.ciphertext, b.ciphertext);
  });

  test('a different context does not open', async () => {
    const sealed = await box.seal('x', 'signing_keys/1/private_jwk');
    await rejectsUnreadable(box.open(sealed, 'signing_keys/2/private_jwk'));
  });

  test('tampering with any part is detected', async () => {
    const sealed = await box.seal('tamper me', 'ctx');
    for (const at of [sealed.length - 1, sealed.length - 20, 30, 40]) {
      const bad = Buffer.from(sealed);
      bad[at]! ^= 1;
      await rejectsUnreadable(box.open(bad, 'ctx'));
    }
  });

  test('garbage, truncation and an unknown version are refused with a clear message', async () => {
    await assert.rejects(box.open(Buffer.from('hello'), 'ctx'), /bad magic/);
    const sealed = await box.seal('x', 'ctx');
    await assert.rejects(box.open(sealed.subarray(0, 20), 'ctx'), /truncated/);
    const v2 = Buffer.from(sealed);
    v2[2] = 2;
    await assert.rejects(box.open(v2, 'ctx'), /version 2 is not supported/);
  });

  test('another key does not open it', async () => {
    const other = createSecretBox({ provider: createLocalKeyProvider([k2]) });
    await rejectsUnreadable(other.open(await box.seal('x', 'ctx'), 'ctx'));
  });

  test('bad contexts and keys are refused at the boundary', async () => {
    await assert.rejects(box.seal('x', ''), TypeError);
    await assert.rejects(box.seal('x', 'c'.repeat(513)), TypeError);
    assert.throws(() => createLocalKeyProvider([]), TypeError);
    assert.throws(() => createLocalKeyProvider([randomBytes(16)]), TypeError);
  });
});

describe('SecretBox rotation (re-wrapping data keys)', () => {
  test('rewrap moves a secret to the new current key without changing its ciphertext', async () => {
    const old = createSecretBox({ provider: createLocalKeyProvider([k1]) });
    const sealed = await old.seal('rotate me', 'ctx');
    const rotated = createSecretBox({ provider: createLocalKeyProvider([k2, k1]) });
    assert.equal(rotated.describe(sealed).keyId, localKeyId(k1));
    // Before re-wrapping, the ring still opens it with the old key.
    assert.equal(await rotated.openText(sealed, 'ctx'), 'rotate me');
    const rewrapped = await rotated.rewrap(sealed, 'ctx');
    assert.ok(rewrapped);
    assert.equal(rotated.describe(rewrapped).keyId, localKeyId(k2));
    assert.deepEqual(decodeSealed(rewrapped).ciphertext, decodeSealed(sealed).ciphertext);
    // Already current: nothing to do.
    assert.equal(await rotated.rewrap(rewrapped, 'ctx'), undefined);
    // Once the old key is gone, only the re-wrapped value opens.
    const retired = createSecretBox({ provider: createLocalKeyProvider([k2]) });
    assert.equal(await retired.openText(rewrapped, 'ctx'), 'rotate me');
    await rejectsUnreadable(retired.open(sealed, 'ctx'));
  });

  test('rewrap with the wrong context changes nothing and fails', async () => {
    const old = createSecretBox({ provider: createLocalKeyProvider([k1]) });
    const sealed = await old.seal('x', 'ctx');
    const rotated = createSecretBox({ provider: createLocalKeyProvider([k2, k1]) });
    await rejectsUnreadable(rotated.rewrap(sealed, 'other'));
  });
});
