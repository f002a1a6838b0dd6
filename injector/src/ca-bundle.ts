/**
 * Self-signed mode: puts the CA into the caBundle of every webhook in the injector's
 * MutatingWebhookConfiguration, so the API server trusts the serving certificate.
 *
 * @module
 */
import type { AdmissionregistrationV1Api } from '@kubernetes/client-node';

export interface CaBundleOptions {
  admission: AdmissionregistrationV1Api;
  webhookName: string;
  caCert: string;
}

/**
 * Writes the caBundle where it differs, with optimistic concurrency (the read resourceVersion).
 *
 * @returns whether anything was written.
 */
export async function syncCaBundle(o: CaBundleOptions): Promise<boolean> {
  const bundle = Buffer.from(o.caCert).toString('base64');
  for (let attempt = 0; attempt < 5; attempt++) {
    const config = await o.admission.readMutatingWebhookConfiguration({ name: o.webhookName });
    const webhooks = config.webhooks ?? [];
    if (webhooks.every((w) => w.clientConfig.caBundle === bundle)) return false;
    for (const w of webhooks) w.clientConfig.caBundle = bundle;
    try {
      await o.admission.replaceMutatingWebhookConfiguration({ name: o.webhookName, body: config });
      return true;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 409) throw err;
    }
  }
  throw new Error(`MutatingWebhookConfiguration ${o.webhookName} kept changing; caBundle not written`);
}
