import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readConfig, serviceHosts } from './config.ts';

const required = { TESSERA_PROXY_IMAGE: 'proxy:1', TESSERA_MESH_ADDRESS: 'http://mesh.tessera.svc:15010' };
const noFile = (path: string): string => {
  throw new Error(`ENOENT ${path}`);
};

test('defaults, with the namespace from the service account', () => {
  const config = readConfig(required, () => 'tessera-system\n');
  assert.equal(config.port, 9443);
  assert.equal(config.certMode, 'self-signed');
  assert.equal(config.namespace, 'tessera-system');
  assert.equal(config.webhookName, 'tessera-injector');
  assert.equal(config.nativeSidecar, 'auto');
  assert.deepEqual(serviceHosts(config).slice(0, 2), [
    'tessera-injector.tessera-system.svc',
    'tessera-injector.tessera-system.svc.cluster.local',
  ]);
});

test('explicit settings', () => {
  const config = readConfig(
    {
      ...required,
      TESSERA_INJECTOR_NAMESPACE: 'mesh',
      TESSERA_INJECTOR_PORT: '8443',
      TESSERA_INJECTOR_CERT_MODE: 'cert-manager',
      TESSERA_INJECTOR_NATIVE_SIDECAR: 'false',
      TESSERA_INJECTOR_EXTRA_HOSTS: '127.0.0.1, injector.example ',
    },
    noFile,
  );
  assert.equal(config.port, 8443);
  assert.equal(config.certMode, 'cert-manager');
  assert.equal(config.nativeSidecar, false);
  assert.deepEqual(config.extraHosts, ['127.0.0.1', 'injector.example']);
});

test('every problem is listed at once', () => {
  assert.throws(
    () =>
      readConfig(
        {
          TESSERA_INJECTOR_PORT: '70000',
          TESSERA_INJECTOR_CERT_MODE: 'vault',
          TESSERA_INJECTOR_NATIVE_SIDECAR: 'yes',
          TESSERA_INJECTOR_WEBHOOK_NAME: 'Bad Name',
          TESSERA_MESH_ADDRESS: 'grpc://x',
        },
        noFile,
      ),
    (err: unknown) => {
      const message = (err as Error).message;
      for (const name of [
        'TESSERA_INJECTOR_PORT',
        'TESSERA_INJECTOR_CERT_MODE',
        'TESSERA_INJECTOR_NATIVE_SIDECAR',
        'TESSERA_INJECTOR_WEBHOOK_NAME',
        'TESSERA_INJECTOR_NAMESPACE',
        'TESSERA_PROXY_IMAGE',
        'TESSERA_MESH_ADDRESS',
      ]) {
        assert.match(message, new RegExp(`${name}: `));
      }
      return err instanceof TypeError;
    },
  );
});
