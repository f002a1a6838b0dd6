/**
 * The Kubernetes test harness: a real kube-apiserver with etcd, and where its binaries live.
 *
 * @module
 */
export { type KubeApiServer, type KubeApiServerOptions, startKubeApiServer } from './api-server.ts';
export { kubeBinary, kubeBinDir, kubeSkip, kubeVersion } from './binaries.ts';
export { CRDS_DIR, installCrds, loadCrds } from './crds.ts';
export { httpsGet } from './https-get.ts';
