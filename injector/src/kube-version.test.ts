import assert from 'node:assert/strict';
import { test } from 'node:test';
import { supportsNativeSidecars } from './kube-version.ts';

test('native sidecars from 1.29, including provider suffixes like "29+"', () => {
  assert.equal(supportsNativeSidecars({ major: '1', minor: '28' }), false);
  assert.equal(supportsNativeSidecars({ major: '1', minor: '28+' }), false);
  assert.equal(supportsNativeSidecars({ major: '1', minor: '29' }), true);
  assert.equal(supportsNativeSidecars({ major: '1', minor: '33+' }), true);
  assert.equal(supportsNativeSidecars({ major: '2', minor: '0' }), true);
});

test('an unreadable version is an error, not a guess', () => {
  assert.throws(() => supportsNativeSidecars({ major: '', minor: 'x' }), /unreadable Kubernetes version/);
});
