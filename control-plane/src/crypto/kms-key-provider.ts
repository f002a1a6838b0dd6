/**
 * The AWS KMS key provider: KMS generates each data key and returns it wrapped by a KMS key that
 * never leaves KMS. The context travels as the KMS encryption context `{ "tessera:context": … }`,
 * so KMS refuses to unwrap a data key for another record (and CloudTrail logs which record was
 * opened). Rotation: point `TESSERA_KMS_KEY_ID` at a new key and run `tessera keys rotate`, which
 * calls ReEncrypt so the plaintext data key never reaches Tessera. (KMS's own yearly rotation of a
 * key's material needs no re-wrap: KMS keeps old material to decrypt.)
 *
 * @module
 */
import {
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  type KMSClientConfig,
  ReEncryptCommand,
} from '@aws-sdk/client-kms';
import type { DataKey, KeyProvider } from './key-provider.ts';

export interface KmsKeyProviderOptions {
  /** The KMS key to wrap new data keys with: key id, ARN, alias name or alias ARN. */
  keyId: string;
  /** Endpoint override, e.g. a moto server in tests. */
  endpoint?: string | undefined;
  region?: string | undefined;
  /** Test seam: the client (credentials and retries come from the AWS SDK defaults otherwise). */
  client?: KMSClient;
}

const context = (c: string) => ({ 'tessera:context': c });

export function createKmsKeyProvider(options: KmsKeyProviderOptions): KeyProvider {
  const config: KMSClientConfig = { region: options.region ?? 'us-east-1' };
  if (options.endpoint) config.endpoint = options.endpoint;
  const kms = options.client ?? new KMSClient(config);
  // KMS answers with the key's ARN; once one data key is made, the provider knows the current ARN
  // and can skip records that already carry it.
  let currentArn: string | undefined =
    options.keyId.startsWith('arn:') && !options.keyId.includes(':alias/') ? options.keyId : undefined;

  return {
    name: 'aws-kms',
    async generateDataKey(c): Promise<DataKey> {
      const out = await kms.send(
        new GenerateDataKeyCommand({
          KeyId: options.keyId,
          KeySpec: 'AES_256',
          EncryptionContext: context(c),
        }),
      );
      if (!out.Plaintext || !out.CiphertextBlob || !out.KeyId)
        throw new Error('KMS GenerateDataKey answered without a key');
      currentArn = out.KeyId;
      return {
        plaintext: Buffer.from(out.Plaintext),
        wrapped: Buffer.from(out.CiphertextBlob),
        keyId: out.KeyId,
      };
    },
    async unwrapDataKey(wrapped, keyId, c) {
      const out = await kms.send(
        new DecryptCommand({ CiphertextBlob: wrapped, KeyId: keyId, EncryptionContext: context(c) }),
      );
      if (!out.Plaintext) throw new Error('KMS Decrypt answered without a key');
      return Buffer.from(out.Plaintext);
    },
    async rewrapDataKey(wrapped, keyId, c) {
      const out = await kms.send(
        new ReEncryptCommand({
          CiphertextBlob: wrapped,
          SourceKeyId: keyId,
          SourceEncryptionContext: context(c),
          DestinationKeyId: options.keyId,
          DestinationEncryptionContext: context(c),
        }),
      );
      if (!out.CiphertextBlob || !out.KeyId) throw new Error('KMS ReEncrypt answered without a key');
      currentArn = out.KeyId;
      return { wrapped: Buffer.from(out.CiphertextBlob), keyId: out.KeyId };
    },
    // Unknown until KMS has named the ARN once: then every record is re-wrapped, which is correct, only slower.
    isCurrent: (keyId) => keyId === currentArn,
  };
}
