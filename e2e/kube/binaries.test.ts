import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { kubeBinDir, kubeSkip, kubeVersion } from './binaries.ts';

test('the binaries directory is keyed by the version the install script builds', () => {
  assert.match(kubeVersion(), /^\d+\.\d+\.\d+$/);
  assert.equal(kubeBinDir({ TESSERA_CACHE: '/c' }), join('/c', 'kube', `v${kubeVersion()}`, 'bin'));
  assert.equal(kubeBinDir({ TESSERA_KUBE_BIN: '/b', TESSERA_CACHE: '/c' }), '/b');
});

test('missing binaries skip the suite locally, with the command that installs them', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'tessera-nobin-'));
  const skip = kubeSkip(['etcd'], { TESSERA_KUBE_BIN: empty });
  assert.equal(typeof skip, 'string');
  assert.match(String(skip), /etcd.*install-binaries\.sh/);
});

test('missing binaries fail in CI instead of skipping', async () => {
  const empty = await mkdtemp(join(tmpdir(), 'tessera-nobin-'));
  assert.throws(() => kubeSkip(['etcd'], { TESSERA_KUBE_BIN: empty, CI: 'true' }), /CI must run/);
});
