/**
 * The aws-kms key provider against moto's KMS: envelope encryption with the record's context as
 * KMS encryption context, rotation to a new KMS key by ReEncrypt, and a control plane that seals
 * its signing key through KMS.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { createKmsKeyProvider } from '../src/crypto/kms-key-provider.ts';
import { createSecretBox } from '../src/crypto/secret-box.ts';
import { TesseraError } from '../src/errors.ts';
import { adminClient } from './helpers/admin-client.ts';
import { type Moto, startMoto } from './helpers/python-tools.ts';
import { type Replica, startReplica } from './helpers/replica.ts';
import { startTestDb, type TestDb } from './helpers/test-db.ts';

// moto accepts any credentials; the SDK's default chain reads these.
process.env.AWS_ACCESS_KEY_ID = 'testing';
process.env.AWS_SECRET_ACCESS_KEY = 'testing';

let moto: Moto;
let kms: KMSClient;
let key1: string;
let key2: string;

before(async () => {
  moto = await startMoto();
  kms = new KMSClient({ region: 'us-east-1', endpoint: moto.endpoint });
  key1 = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
  key2 = (await kms.send(new CreateKeyCommand({}))).KeyMetadata!.Arn!;
});

after(async () => {
  kms?.destroy();
  await moto?.stop();
});

const boxFor = (keyId: string) =>
  createSecretBox({
    provider: createKmsKeyProvider({ keyId, endpoint: moto.endpoint, region: 'us-east-1' }),
  });

describe('aws-kms key provider (moto)', () => {
  test('seals and opens; the header names the KMS key; another context is refused by KMS', async () => {
    const box = boxFor(key1);
    const sealed = await box.seal('kms-protected-secret', 'upstream_credentials/x/');
    assert.equal(sealed.includes(Buffer.from('kms-protected-secret')), false);
    assert.deepEqual(box.describe(sealed), { provider: 'aws-kms', keyId: key1 });
    assert.equal(await box.openText(sealed, 'upstream_credentials/x/'), 'kms-protected-secret');
    await assert.rejects(
      box.open(sealed, 'upstream_credentials/y/'),
      (err: unknown) => err instanceof TesseraError && err.code === 'TESSERA_SECRET_UNREADABLE',
    );
  });

  test('rotation re-wraps the data key under the new KMS key (ReEncrypt)', async () => {
    const sealed = await boxFor(key1).seal('rotate-through-kms', 'ctx');
    const next = boxFor(key2);
    const rewrapped = await next.rewrap(sealed, 'ctx');
    assert.ok(rewrapped);
    assert.equal(next.describe(rewrapped).keyId, key2);
    assert.equal(await next.openText(rewrapped, 'ctx'), 'rotate-through-kms');
    assert.equal(await next.rewrap(rewrapped, 'ctx'), undefined, 'already current');
  });

  test('an unknown KMS key fails clearly', async () => {
    await assert.rejects(boxFor('arn:aws:kms:us-east-1:123456789012:key/does-not-exist').seal('x', 'ctx'));
  });
});

describe('a control plane on aws-kms', () => {
  let db: TestDb;
  let replica: Replica;
  before(async () => {
    db = await startTestDb();
  });
  after(async () => {
    await replica?.close();
    await db?.stop();
  });

  test('seals its signing key through KMS and rotates every secret to a new KMS key', async () => {
    const env = {
      TESSERA_KEY_PROVIDER: 'aws-kms',
      TESSERA_KMS_ENDPOINT: moto.endpoint,
      TESSERA_KMS_REGION: 'us-east-1',
    };
    replica = await startReplica(db, { ...env, TESSERA_KMS_KEY_ID: key1 });
    const [row] = await replica.ds.query('SELECT kid, sealed_private_jwk FROM signing_keys');
    assert.deepEqual(replica.cp.secretBox.describe(row.sealed_private_jwk).keyId, key1);
    await replica.close();

    // The operator points the control plane at the new key, restarts it, then rotates.
    replica = await startReplica(db, { ...env, TESSERA_KMS_KEY_ID: key2 });
    const admin = adminClient(() => replica.cp);
    const rotated = await admin('POST', '/api/v1/keys/rotate', {});
    assert.equal(rotated.statusCode, 200, rotated.body);
    // The signing key, and the identity's generated cookie and CSRF keys.
    assert.deepEqual(rotated.json(), { rewrapped: 3, current: 0 });
    const [after] = await replica.ds.query('SELECT sealed_private_jwk FROM signing_keys');
    assert.equal(replica.cp.secretBox.describe(after.sealed_private_jwk).keyId, key2);
    assert.deepEqual((await admin('POST', '/api/v1/keys/rotate', {})).json(), { rewrapped: 0, current: 3 });
  });
});
