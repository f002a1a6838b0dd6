/**
 * Runs the MCPServer controller in a control-plane replica: loads the in-cluster configuration
 * (else `$KUBECONFIG` / `~/.kube/config`), joins leader election on the Lease
 * `<namespace>/tessera-controller`, and runs the controller only while this replica leads, so that
 * N replicas never reconcile the same server at once.
 *
 * @module
 */
import { CoordinationV1Api, KubeConfig } from '@kubernetes/client-node';
import type { ServerRegistry } from '../catalog/server-registry.ts';
import type { KubernetesSettings } from '../config.ts';
import { createMcpServerController, type McpServerController } from './controller.ts';
import { startLeaderElector } from './leader-election.ts';
import { registrySink } from './registry-sync.ts';

export const LEASE_NAME = 'tessera-controller';

export interface RunningController {
  close(): Promise<void>;
}

export function startKubernetesController(
  settings: KubernetesSettings,
  log: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void,
  options: { kubeConfig?: KubeConfig; registry?: ServerRegistry } = {},
): RunningController {
  const { kubeConfig, registry } = options;
  const kc = kubeConfig ?? new KubeConfig();
  if (!kubeConfig) {
    if (process.env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
    else kc.loadFromDefault();
  }
  let controller: McpServerController | undefined;
  // Start and stop are chained so that a quick loss of leadership cannot overlap two controllers.
  let transition: Promise<void> = Promise.resolve();
  const elector = startLeaderElector({
    api: kc.makeApiClient(CoordinationV1Api),
    namespace: settings.namespace,
    name: LEASE_NAME,
    identity: settings.podName,
    onStartedLeading() {
      log('info', 'leading: starting the MCPServer controller', { identity: settings.podName });
      transition = transition.then(async () => {
        controller = createMcpServerController({
          kubeConfig: kc,
          resyncMs: settings.resyncSeconds * 1000,
          render: {
            proxyImage: settings.proxyImage,
            runnerImages: { node: settings.runnerNodeImage, python: settings.runnerPythonImage },
            meshAddress: settings.meshAddress,
            clusterDomain: settings.clusterDomain,
          },
          log,
          ...(registry ? { registry: registrySink(registry) } : {}),
        });
        await controller
          .start()
          .catch((err: unknown) => log('error', 'controller start failed', { error: String(err) }));
      });
    },
    onStoppedLeading() {
      log('warn', 'lost leadership: stopping the MCPServer controller', { identity: settings.podName });
      transition = transition.then(async () => {
        await controller?.close();
        controller = undefined;
      });
    },
    onError: (err) =>
      log('warn', 'leader election', { error: String((err as { body?: unknown }).body ?? err) }),
  });
  return {
    async close() {
      await elector.close();
      await transition;
    },
  };
}
