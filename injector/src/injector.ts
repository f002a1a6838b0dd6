/**
 * Wires the injector: Kubernetes clients, the serving certificate (self-signed or cert-manager), the
 * sidecar mode and the HTTPS server. `main.ts` only reads the environment and handles signals.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig, VersionApi } from '@kubernetes/client-node';
import { review } from './admission.ts';
import { syncCaBundle } from './ca-bundle.ts';
import type { InjectorConfig } from './config.ts';
import { serviceHosts } from './config.ts';
import { supportsNativeSidecars } from './kube-version.ts';
import { createNamespaceLabels } from './namespace-labels.ts';
import type { SidecarConfig } from './render.ts';
import { createWebhookServer } from './server.ts';
import { ensureTlsSecret } from './tls-secret.ts';

export interface InjectorOptions {
  config: InjectorConfig;
  kubeConfig: KubeConfig;
  /** One JSON object per line; default: stderr. */
  log?: (entry: Record<string, unknown>) => void;
  /** How often the certificate and caBundle are checked again (default 60 s). */
  resyncMs?: number;
}

export interface Injector {
  /** https://host:port of the listener. */
  url: string;
  sidecar: SidecarConfig;
  ready(): boolean;
  close(): Promise<void>;
}

function stderrLog(entry: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
}

async function readCertManagerFiles(dir: string): Promise<{ key: string; cert: string }> {
  const [cert, key] = await Promise.all([
    readFile(join(dir, 'tls.crt'), 'utf8'),
    readFile(join(dir, 'tls.key'), 'utf8'),
  ]);
  return { cert, key };
}

/**
 * Starts the injector and resolves once it listens. Readiness follows: in self-signed mode once the
 * webhook configuration trusts the certificate (it may not exist yet during an install).
 */
export async function startInjector(options: InjectorOptions): Promise<Injector> {
  const { config, kubeConfig } = options;
  const log = options.log ?? stderrLog;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const admission = kubeConfig.makeApiClient(AdmissionregistrationV1Api);

  const nativeSidecar =
    config.nativeSidecar === 'auto'
      ? supportsNativeSidecars(await kubeConfig.makeApiClient(VersionApi).getCode())
      : config.nativeSidecar;
  const sidecar: SidecarConfig = {
    proxyImage: config.proxyImage,
    meshAddress: config.meshAddress,
    nativeSidecar,
  };

  const tlsSecret = {
    core,
    namespace: config.namespace,
    name: config.tlsSecret,
    hosts: serviceHosts(config),
    log: (message: string) => log({ level: 'info', message }),
  };
  let current =
    config.certMode === 'self-signed'
      ? await ensureTlsSecret(tlsSecret)
      : { caCert: '', ...(await readCertManagerFiles(config.tlsDir)) };
  let trusted = config.certMode === 'cert-manager';

  const namespaceLabels = createNamespaceLabels({ core });
  const webhook = createWebhookServer({
    key: current.key,
    cert: current.cert,
    ready: () => trusted,
    review: (request) => review(request, namespaceLabels, sidecar),
    onReview: (request, outcome) =>
      log({
        level: outcome.result === 'error' ? 'error' : 'info',
        uid: request.uid,
        namespace: request.namespace,
        operation: request.operation,
        dryRun: request.dryRun,
        result: outcome.result,
        message: outcome.message,
      }),
  });

  /** Self-signed: renew when due and keep the caBundle current (a chart upgrade may reset it). */
  const resync = async (): Promise<void> => {
    if (config.certMode === 'self-signed') {
      const next = await ensureTlsSecret(tlsSecret);
      if (next.cert !== current.cert) webhook.setCertificate(next.key, next.cert);
      current = next;
      if (await syncCaBundle({ admission, webhookName: config.webhookName, caCert: current.caCert })) {
        log({ level: 'info', message: `caBundle written to ${config.webhookName}` });
      }
      trusted = true;
    } else {
      const next = await readCertManagerFiles(config.tlsDir);
      if (next.cert !== current.cert || next.key !== current.key) {
        webhook.setCertificate(next.key, next.cert);
        current = { caCert: '', ...next };
        log({ level: 'info', message: 'reloaded the serving certificate from cert-manager' });
      }
    }
  };
  const safeResync = () =>
    resync().catch((err: unknown) =>
      log({ level: 'warn', message: `certificate sync: ${(err as Error).message}` }),
    );

  webhook.server.listen(config.port, config.host);
  await new Promise<void>((resolve, reject) => {
    webhook.server.once('listening', resolve);
    webhook.server.once('error', reject);
  });
  await safeResync();
  // Until trusted, retry quickly; afterwards at the resync interval.
  let timer: NodeJS.Timeout;
  const schedule = () => {
    timer = setTimeout(
      async () => {
        await safeResync();
        schedule();
      },
      trusted ? (options.resyncMs ?? 60_000) : 2_000,
    );
    timer.unref();
  };
  schedule();

  const address = webhook.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  log({
    level: 'info',
    message: `listening on ${host}:${address.port}`,
    nativeSidecar,
    certMode: config.certMode,
  });
  return {
    url: `https://${host}:${address.port}`,
    sidecar,
    ready: () => trusted,
    close: async () => {
      clearTimeout(timer);
      const closed = new Promise<void>((resolve) => webhook.server.close(() => resolve()));
      webhook.server.closeAllConnections();
      await closed;
    },
  };
}
