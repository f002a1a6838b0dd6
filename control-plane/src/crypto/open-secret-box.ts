/**
 * Builds the control plane's `SecretBox` from its settings: the local key provider by default,
 * AWS KMS when `TESSERA_KEY_PROVIDER=aws-kms`. With the local key file, the key ring can also grow a
 * new current key while running (`addKey`), which is the first half of a rotation.
 *
 * @module
 */
import type { Settings } from '../config.ts';
import type { KeyProvider } from './key-provider.ts';
import { createLocalKeyProvider } from './local-key-provider.ts';
import { addLocalKey, loadLocalKeys, retireOldLocalKeys } from './local-keyring.ts';
import { createSecretBox, type SecretBox } from './secret-box.ts';

export type EncryptionSettings = Pick<
  Settings,
  'dataDir' | 'keyProvider' | 'encryptionKeys' | 'kmsKeyId' | 'kmsEndpoint' | 'kmsRegion'
>;

export interface Keyring {
  box: SecretBox;
  /** Only for the local key file: makes a new key current (old keys still open existing values). */
  addKey?: () => Promise<void>;
  /** Only for the local key file: forgets every key but the current one, once nothing needs them. */
  retireOldKeys?: () => Promise<void>;
}

/** A provider whose implementation can be replaced while boxes built on it are in use. */
function swappable(initial: KeyProvider): KeyProvider & { use(next: KeyProvider): void } {
  let p = initial;
  return {
    get name() {
      return p.name;
    },
    generateDataKey: (c) => p.generateDataKey(c),
    unwrapDataKey: (w, k, c) => p.unwrapDataKey(w, k, c),
    rewrapDataKey: (w, k, c) => p.rewrapDataKey(w, k, c),
    isCurrent: (k) => p.isCurrent(k),
    use(next) {
      p = next;
    },
  };
}

export async function openKeyring(settings: EncryptionSettings): Promise<Keyring> {
  if (settings.keyProvider === 'aws-kms') {
    const { createKmsKeyProvider } = await import('./kms-key-provider.ts');
    const provider = createKmsKeyProvider({
      keyId: settings.kmsKeyId!,
      endpoint: settings.kmsEndpoint,
      region: settings.kmsRegion,
    });
    return { box: createSecretBox({ provider }) };
  }
  const provider = swappable(
    createLocalKeyProvider(await loadLocalKeys(settings.dataDir, settings.encryptionKeys)),
  );
  const box = createSecretBox({ provider });
  if (settings.encryptionKeys) return { box };
  return {
    box,
    async addKey() {
      provider.use(createLocalKeyProvider(await addLocalKey(settings.dataDir)));
    },
    async retireOldKeys() {
      await retireOldLocalKeys(settings.dataDir);
      provider.use(createLocalKeyProvider(await loadLocalKeys(settings.dataDir, undefined)));
    },
  };
}

export async function openSecretBox(settings: EncryptionSettings): Promise<SecretBox> {
  return (await openKeyring(settings)).box;
}
