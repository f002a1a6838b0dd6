/**
 * A free TCP port on 127.0.0.1 for a server a test starts (the proxy tests' helper, which says why it
 * avoids the kernel's ephemeral range).
 *
 * @module
 */
export { freePort } from '../../../proxy/test/helpers/free-port.ts';
