/**
 * A free TCP port on 127.0.0.1: etcd and kube-apiserver cannot report a port they chose themselves,
 * so the harness picks one (the proxy tests' helper, which says why it avoids the kernel's ephemeral
 * range).
 *
 * @module
 */
export { freePort } from '../../proxy/test/helpers/free-port.ts';
