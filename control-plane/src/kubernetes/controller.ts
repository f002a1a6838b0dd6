/**
 * The MCPServer controller: watches MCPServers and the objects it owns (informers), and reconciles
 * one server at a time per key through a work queue, plus a full resync every `resyncMs`.
 *
 * Reconcile (`<namespace>/<name>`):
 * 1. Read the MCPServer. Gone → delete whatever still carries its labels (orphans), done.
 * 2. Being deleted → delete the owned objects, then remove the `tessera.dev/cleanup` finalizer. The
 *    controller deletes them itself instead of relying on ownerReferences alone: a cluster without a
 *    garbage collector (or an API server under test) would otherwise keep them forever. The
 *    ownerReferences are set too, so `kubectl` shows the ownership and a real cluster's garbage
 *    collector cleans up if the controller is not running.
 * 3. Ensure the finalizer, render the desired objects, refuse to take over an object of the same
 *    name that another owner controls (Reconciled=False, reason Conflict), and server-side apply the
 *    rest with `force`: a field someone changed by hand is put back (drift correction) and a deleted
 *    object is recreated.
 * 4. Register the server in the control plane's registry (its proxies' configuration: resource URI,
 *    upstream, grants); on deletion its grants are removed.
 * 5. Write the status (conditions, observedGeneration, endpoint) when it changed.
 *
 * @module
 */
import {
  AppsV1Api,
  CustomObjectsApi,
  type Informer,
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  makeInformer,
  type ObjectCache,
  PatchStrategy,
  setHeaderOptions,
  type V1Deployment,
} from '@kubernetes/client-node';
import {
  FIELD_MANAGER,
  FINALIZER,
  GROUP,
  KIND,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  type McpServer,
  PLURAL,
  SERVER_LABEL,
  VERSION,
} from './mcp-server.ts';
import type { RegistrySink } from './registry-sync.ts';
import { meshEndpoint, type RenderOptions, renderServer } from './render.ts';
import { computeStatus, sameStatus } from './status.ts';
import { createWorkQueue, type WorkQueue } from './work-queue.ts';

export interface McpServerControllerOptions {
  kubeConfig: KubeConfig;
  render: RenderOptions;
  /** Every server is reconciled at least this often, events or not. */
  resyncMs: number;
  log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void;
  /** Where reconciled servers are registered for the mesh (the control plane's registry). */
  registry?: RegistrySink;
}

export interface McpServerController {
  /** Starts the informers and the queue; resolves once the initial lists are in. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Reconciles one server now (tests, and the queue's worker). */
  reconcile(namespace: string, name: string): Promise<void>;
}

/** The kinds the controller owns, with the cluster-wide path their informers watch. */
const OWNED = [
  { apiVersion: 'v1', kind: 'ServiceAccount', path: '/api/v1/serviceaccounts' },
  { apiVersion: 'apps/v1', kind: 'Deployment', path: '/apis/apps/v1/deployments' },
  { apiVersion: 'v1', kind: 'Service', path: '/api/v1/services' },
  {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    path: '/apis/networking.k8s.io/v1/networkpolicies',
  },
] as const;

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export function createMcpServerController(options: McpServerControllerOptions): McpServerController {
  const kc = options.kubeConfig;
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const custom = kc.makeApiClient(CustomObjectsApi);
  const apps = kc.makeApiClient(AppsV1Api);
  const informers: (Informer<KubernetesObject> & ObjectCache<KubernetesObject>)[] = [];
  let queue: WorkQueue | undefined;
  let resync: NodeJS.Timeout | undefined;
  let closed = false;

  const code = (err: unknown) => (err as { code?: number }).code;

  async function readServer(namespace: string, name: string): Promise<McpServer | undefined> {
    try {
      return (await custom.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural: PLURAL,
        name,
      })) as McpServer;
    } catch (err) {
      if (code(err) === 404) return undefined;
      throw err;
    }
  }

  /** Deletes what the controller made for `name` (and, when `uid` is given, only what that server owns). */
  async function deleteOwned(namespace: string, name: string, uid?: string): Promise<void> {
    for (const { apiVersion, kind } of OWNED) {
      const list = await objects.list(
        apiVersion,
        kind,
        namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        `${SERVER_LABEL}=${name},${MANAGED_BY_LABEL}=${MANAGED_BY}`,
      );
      for (const item of list.items) {
        const owner = item.metadata?.ownerReferences?.find((o) => o.controller);
        if (owner && (owner.kind !== KIND || (uid && owner.uid !== uid))) continue;
        try {
          await objects.delete(
            { apiVersion, kind, metadata: { name: item.metadata?.name, namespace } },
            undefined,
            undefined,
            undefined,
            undefined,
            'Background',
          );
        } catch (err) {
          if (code(err) !== 404) throw err;
        }
      }
    }
  }

  async function patchServer(server: McpServer, body: object): Promise<McpServer> {
    const { namespace, name } = server.metadata as { namespace: string; name: string };
    return (await custom.patchNamespacedCustomObject(
      { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body },
      mergePatch,
    )) as McpServer;
  }

  async function reconcile(namespace: string, name: string): Promise<void> {
    let server = await readServer(namespace, name);
    if (!server) {
      await deleteOwned(namespace, name);
      return;
    }
    const finalizers = server.metadata?.finalizers ?? [];
    if (server.metadata?.deletionTimestamp) {
      if (!finalizers.includes(FINALIZER)) return;
      await deleteOwned(namespace, name, server.metadata.uid);
      await options.registry?.release(name);
      // resourceVersion makes the removal conditional: a concurrent change to finalizers gets 409.
      await patchServer(server, {
        metadata: {
          finalizers: finalizers.filter((f) => f !== FINALIZER),
          resourceVersion: server.metadata.resourceVersion,
        },
      });
      options.log('info', 'MCPServer deleted: owned objects removed', { namespace, name });
      return;
    }
    if (!finalizers.includes(FINALIZER)) {
      server = await patchServer(server, {
        metadata: {
          finalizers: [...finalizers, FINALIZER],
          resourceVersion: server.metadata?.resourceVersion,
        },
      });
    }
    const desired = renderServer(server, options.render);
    let error: { reason: string; message: string } | undefined;
    for (const obj of [desired.serviceAccount, desired.deployment, desired.service, desired.networkPolicy]) {
      const existing = await objects
        .read(obj as { apiVersion: string; kind: string; metadata: { name: string; namespace: string } })
        .catch((err) => {
          if (code(err) === 404) return undefined;
          throw err;
        });
      const owner = existing?.metadata?.ownerReferences?.find((o) => o.controller);
      if (existing && owner?.uid !== server.metadata?.uid) {
        error = {
          reason: 'Conflict',
          message: `${obj.kind} ${name} exists and is not controlled by this MCPServer`,
        };
        break;
      }
      try {
        await objects.patch(
          obj as KubernetesObject,
          undefined,
          undefined,
          FIELD_MANAGER,
          true,
          PatchStrategy.ServerSideApply,
        );
      } catch (err) {
        const body = (err as { body?: string }).body;
        error = {
          reason: 'ApplyFailed',
          message: `${obj.kind} ${name}: ${body ?? (err as Error).message}`.slice(0, 1000),
        };
        break;
      }
    }
    const endpoint = meshEndpoint(server, options.render.clusterDomain);
    let deployment: V1Deployment | undefined;
    if (!error) {
      await options.registry?.upsert(server, endpoint);
      deployment = await apps.readNamespacedDeployment({ namespace, name }).catch(() => undefined);
    }
    const status = computeStatus(server, error ? { error } : {}, deployment, endpoint, new Date());
    if (!sameStatus(server.status, status)) {
      await custom.patchNamespacedCustomObjectStatus(
        { group: GROUP, version: VERSION, namespace, plural: PLURAL, name, body: { status } },
        mergePatch,
      );
    }
    if (error) options.log('warn', 'MCPServer not reconciled', { namespace, name, ...error });
  }

  function watch(
    path: string,
    list: () => Promise<{ items: KubernetesObject[] }>,
    keyOf: (o: KubernetesObject) => string | undefined,
    labelSelector?: string,
  ) {
    const informer = makeInformer(kc, path, list as never, labelSelector);
    const enqueue = (o: KubernetesObject) => {
      const key = keyOf(o);
      if (key) queue?.add(key);
    };
    informer.on('add', enqueue);
    informer.on('update', enqueue);
    informer.on('delete', enqueue);
    informer.on('error', (err) => {
      if (closed) return;
      // The client's error text carries every response header: the first line says enough.
      options.log('warn', 'watch failed; restarting', { path, error: String(err).split('\n')[0] });
      setTimeout(() => {
        if (!closed) informer.start().catch(() => undefined);
      }, 2000);
    });
    informers.push(informer);
  }

  return {
    reconcile,
    async start() {
      queue = createWorkQueue({
        process: (key) => {
          const [namespace, name] = key.split('/') as [string, string];
          return reconcile(namespace, name);
        },
        onError: (key, err) =>
          options.log('error', 'reconcile failed; will retry', {
            key,
            error: String((err as { body?: unknown }).body ?? err),
          }),
      });
      const serverKey = (o: KubernetesObject) => `${o.metadata?.namespace}/${o.metadata?.name}`;
      watch(
        `/apis/${GROUP}/${VERSION}/${PLURAL}`,
        () => custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL }) as never,
        serverKey,
      );
      const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
      for (const { apiVersion, kind, path } of OWNED) {
        watch(
          path,
          () =>
            objects.list(apiVersion, kind, undefined, undefined, undefined, undefined, undefined, selector),
          (o) => {
            const server = o.metadata?.labels?.[SERVER_LABEL];
            return server ? `${o.metadata?.namespace}/${server}` : undefined;
          },
          selector,
        );
      }
      await Promise.all(informers.map((i) => i.start()));
      resync = setInterval(() => {
        for (const o of informers[0]?.list() ?? []) queue?.add(serverKey(o));
      }, options.resyncMs);
      options.log('info', 'MCPServer controller started');
    },
    async close() {
      closed = true;
      clearInterval(resync);
      await Promise.all(informers.map((i) => i.stop()));
      informers.length = 0;
      await queue?.close();
    },
  };
}
