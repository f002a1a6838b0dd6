/**
 * Builds the control plane's `SecretBox` from its settings: the local key provider by default,
 * AWS KMS when `TESSERA_KEY_PROVIDER=aws-kms`.
 *
 * @module
 */
import type { Settings } from '../config.ts';
import { createLocalKeyProvider } from './local-key-provider.ts';
import { loadLocalKeys } from './local-keyring.ts';
import { createSecretBox, type SecretBox } from './secret-box.ts';

export type EncryptionSettings = Pick<
  Settings,
  'dataDir' | 'keyProvider' | 'encryptionKeys' | 'kmsKeyId' | 'kmsEndpoint' | 'kmsRegion'
>;

export async function openSecretBox(settings: EncryptionSettings): Promise<SecretBox> {
  if (settings.keyProvider === 'aws-kms') {
    const { createKmsKeyProvider } = await import('./kms-key-provider.ts');
    return createSecretBox({
      provider: createKmsKeyProvider({
        keyId: settings.kmsKeyId!,
        endpoint: settings.kmsEndpoint,
        region: settings.kmsRegion,
      }),
    });
  }
  const keys = await loadLocalKeys(settings.dataDir, settings.encryptionKeys);
  return createSecretBox({ provider: createLocalKeyProvider(keys) });
}
