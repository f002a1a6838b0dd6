import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releaseBuffer } from './release-buffer.ts';

test('a buffer that owns its memory is freed: it and its views become empty', () => {
  const buf = Buffer.allocUnsafeSlow(64 * 1024).fill(7);
  const view = buf.subarray(10, 20);
  releaseBuffer(buf);
  assert.equal(buf.length, 0);
  assert.equal(view.length, 0);
  assert.equal(buf.buffer.detached, true);
  releaseBuffer(buf); // twice is harmless
});

test('a slice of the shared pool, or of a larger buffer, is left alone', () => {
  const a = Buffer.from('pooled: shares its memory with other small buffers');
  const b = Buffer.from('another pooled buffer');
  assert.equal(a.buffer, b.buffer, 'both come from the pool');
  releaseBuffer(a);
  assert.equal(a.toString(), 'pooled: shares its memory with other small buffers');
  assert.equal(b.toString(), 'another pooled buffer');
  const whole = Buffer.allocUnsafeSlow(100).fill(1);
  const part = whole.subarray(0, 50);
  releaseBuffer(part);
  assert.equal(whole.length, 100);
  assert.equal(whole[99], 1);
});
