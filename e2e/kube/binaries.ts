/**
 * Where the Kubernetes test binaries (kube-apiserver, etcd, helm, kubeconform) live, and whether a
 * test may run. `e2e/kube/install-binaries.sh` builds them into
 * `${TESSERA_CACHE:-$HOME/.cache/tessera}/kube/v<version>/bin`; `TESSERA_KUBE_BIN` overrides the
 * directory. The version is read from that script, so the two never disagree.
 *
 * @module
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const SCRIPT = new URL('./install-binaries.sh', import.meta.url);
const REQUIRED = ['kube-apiserver', 'etcd'] as const;

/** The Kubernetes version the install script builds (e.g. `1.33.5`). */
export function kubeVersion(): string {
  const m = /^KUBE_VERSION=(\S+)$/m.exec(readFileSync(SCRIPT, 'utf8'));
  if (!m) throw new Error(`no KUBE_VERSION= line in ${SCRIPT.pathname}`);
  return m[1]!;
}

/** The directory that holds the binaries (it may not exist yet). */
export function kubeBinDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.TESSERA_KUBE_BIN) return env.TESSERA_KUBE_BIN;
  const cache = env.TESSERA_CACHE || join(homedir(), '.cache', 'tessera');
  return join(cache, 'kube', `v${kubeVersion()}`, 'bin');
}

/** Absolute path of one installed binary. */
export function kubeBinary(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return join(kubeBinDir(env), name);
}

/**
 * The `skip` option for a `node:test` suite that needs the binaries: `false` when they are
 * installed; a message saying how to install them when they are not. In CI (`CI` set) a missing
 * binary is an error instead, so that CI can never pass by skipping the Kubernetes suites.
 */
export function kubeSkip(
  names: readonly string[] = REQUIRED,
  env: NodeJS.ProcessEnv = process.env,
): string | false {
  const missing = names.filter((n) => !existsSync(kubeBinary(n, env)));
  if (missing.length === 0) return false;
  const message = `Kubernetes binaries missing in ${kubeBinDir(env)} (${missing.join(', ')}): run e2e/kube/install-binaries.sh`;
  if (env.CI) throw new Error(`${message} — CI must run the Kubernetes suites`);
  return message;
}
