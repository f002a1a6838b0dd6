/**
 * Self-signed mode: the CA and serving certificate live in one Secret so that every replica serves
 * the same certificate and the webhook configuration needs one caBundle. The first replica to find
 * no usable Secret creates it; a replica that loses that race adopts the winner's.
 *
 * @module
 */
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import type { CertificateSet } from './self-signed-cert.ts';
import { certificateProblem, createCertificates } from './self-signed-cert.ts';

export interface TlsSecretOptions {
  core: CoreV1Api;
  namespace: string;
  name: string;
  hosts: string[];
  log: (message: string) => void;
}

function statusOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

function fromSecret(secret: V1Secret): CertificateSet | undefined {
  const data = secret.data ?? {};
  const read = (k: string) => (data[k] ? Buffer.from(data[k], 'base64').toString('utf8') : undefined);
  const caCert = read('ca.crt');
  const cert = read('tls.crt');
  const key = read('tls.key');
  return caCert && cert && key ? { caCert, cert, key } : undefined;
}

function toSecret(name: string, set: CertificateSet, resourceVersion?: string): V1Secret {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: {
      name,
      ...(resourceVersion ? { resourceVersion } : {}),
      labels: { 'app.kubernetes.io/managed-by': 'tessera-injector' },
    },
    data: { 'ca.crt': b64(set.caCert), 'tls.crt': b64(set.cert), 'tls.key': b64(set.key) },
  };
}

async function readSecret(o: TlsSecretOptions): Promise<V1Secret | undefined> {
  try {
    return await o.core.readNamespacedSecret({ name: o.name, namespace: o.namespace });
  } catch (err) {
    if (statusOf(err) === 404) return undefined;
    throw err;
  }
}

/**
 * Returns the shared certificate set, creating or renewing it when the Secret is missing, unreadable,
 * for other hosts or close to expiry.
 *
 * 1. Read the Secret; a usable set is returned as is.
 * 2. Otherwise write a new set: create when absent, replace at the read resourceVersion when present.
 * 3. A conflict means another replica wrote first: go back to 1 and use its set.
 */
export async function ensureTlsSecret(o: TlsSecretOptions): Promise<CertificateSet> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const existing = await readSecret(o);
    const stored = existing ? fromSecret(existing) : undefined;
    const problem = stored ? certificateProblem(stored, o.hosts) : 'there is no certificate yet';
    if (stored && !problem) return stored;
    o.log(`issuing a new webhook certificate in Secret ${o.namespace}/${o.name}: ${problem}`);
    const fresh = createCertificates({ hosts: o.hosts });
    try {
      if (existing) {
        await o.core.replaceNamespacedSecret({
          name: o.name,
          namespace: o.namespace,
          body: toSecret(o.name, fresh, existing.metadata?.resourceVersion),
        });
      } else {
        await o.core.createNamespacedSecret({ namespace: o.namespace, body: toSecret(o.name, fresh) });
      }
      return fresh;
    } catch (err) {
      if (statusOf(err) !== 409) throw err;
    }
  }
  throw new Error(`Secret ${o.namespace}/${o.name} kept changing under the injector; giving up`);
}
