/**
 * A real Kubernetes API server for tests: etcd and kube-apiserver as child processes on free ports,
 * state in a temporary directory, nothing else (no kubelet, scheduler or controller manager — so no
 * pod runs, no namespace gets its `default` ServiceAccount, and owned objects are not garbage
 * collected by themselves).
 *
 * What it configures, and why:
 * - TLS: kube-apiserver generates a self-signed CA and serving certificate per run (`--cert-dir`);
 *   the CA is returned as `caPem` and written into the kubeconfig.
 * - Authentication: a static bearer token for `tessera-admin` in `system:masters`
 *   (`--token-auth-file`), and service-account tokens signed with a fresh EC key per run
 *   (`--service-account-*`), so TokenRequest and TokenReview work.
 * - Authorization: RBAC only, as on a real cluster: anything that is not the admin needs roles.
 * - Admission: the default plugins plus MutatingAdmissionWebhook and ValidatingAdmissionWebhook
 *   (both default, named so that a change of defaults cannot drop them).
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeBinary } from './binaries.ts';
import { freePort } from './free-port.ts';
import { httpsGet } from './https-get.ts';

export interface KubeApiServer {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** A kubeconfig for the admin user (context `tessera-test`). */
  kubeconfigPath: string;
  /** The CA that signed the serving certificate. */
  caPem: string;
  /** The admin's bearer token (group `system:masters`). */
  adminToken: string;
  /** `--service-account-issuer`: the `iss` of every service-account token. */
  serviceAccountIssuer: string;
  /** Stops kube-apiserver, then etcd, and removes the temporary directory. Idempotent. */
  stop(): Promise<void>;
}

export interface KubeApiServerOptions {
  /** More kube-apiserver flags, e.g. `['--disable-admission-plugins=ServiceAccount']`. */
  extraArgs?: string[];
  /** How long to wait for `/readyz`; generous because CI machines are shared. Default 120 s. */
  startTimeoutMs?: number;
}

const ISSUER = 'https://kubernetes.default.svc.cluster.local';

/**
 * Starts etcd and kube-apiserver and resolves once `/readyz` answers 200.
 *
 * @example
 * const kube = await startKubeApiServer();
 * after(() => kube.stop());
 * const kc = new KubeConfig(); kc.loadFromFile(kube.kubeconfigPath);
 */
export async function startKubeApiServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-kube-'));
  const children: ChildProcess[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Reverse order: the API server first, so it never sees etcd vanish under it.
    for (const child of children.reverse()) await terminate(child);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const etcdUrl = await startEtcd(dir, children);
    const adminToken = randomBytes(24).toString('hex');
    await writeFile(join(dir, 'tokens.csv'), `${adminToken},tessera-admin,tessera-admin,"system:masters"\n`);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await writeFile(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    const port = await freePort();
    const certDir = join(dir, 'certs');
    await mkdir(certDir);
    const args = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${port}`,
      `--cert-dir=${certDir}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      `--service-account-issuer=${ISSUER}`,
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--enable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook',
      '--allow-privileged=true',
      '--profiling=false',
      ...(options.extraArgs ?? []),
    ];
    const apiserver = launch(kubeBinary('kube-apiserver'), args, join(dir, 'kube-apiserver.log'));
    children.push(apiserver);
    const url = `https://127.0.0.1:${port}`;
    const caPem = await waitReady(
      url,
      adminToken,
      certDir,
      apiserver,
      options.startTimeoutMs ?? 120_000,
      dir,
    );
    const kubeconfigPath = join(dir, 'kubeconfig');
    await writeFile(kubeconfigPath, kubeconfig(url, caPem, adminToken), { mode: 0o600 });
    return { url, kubeconfigPath, caPem, adminToken, serviceAccountIssuer: ISSUER, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function startEtcd(dir: string, children: ChildProcess[]): Promise<string> {
  const [clientPort, peerPort] = [await freePort(), await freePort()];
  const client = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const etcd = launch(
    kubeBinary('etcd'),
    [
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${client}`,
      `--advertise-client-urls=${client}`,
      `--listen-peer-urls=${peer}`,
      `--initial-advertise-peer-urls=${peer}`,
      `--initial-cluster=default=${peer}`,
      // A throwaway store: durability costs fsyncs that slow a shared CI machine for nothing.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ],
    join(dir, 'etcd.log'),
  );
  children.push(etcd);
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (etcd.exitCode !== null)
      throw new Error(`etcd exited (${etcd.exitCode}): ${await tail(dir, 'etcd.log')}`);
    const ok = await fetch(`${client}/health`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ok) return client;
    await sleep(100);
  }
  throw new Error(`etcd did not become healthy within 60 s: ${await tail(dir, 'etcd.log')}`);
}

function launch(bin: string, args: string[], logPath: string): ChildProcess {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run e2e/kube/install-binaries.sh`);
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logPath);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  return child;
}

async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** Polls `/readyz` until it answers 200; returns the CA of the self-signed serving certificate. */
async function waitReady(
  url: string,
  token: string,
  certDir: string,
  apiserver: ChildProcess,
  timeoutMs: number,
  dir: string,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (apiserver.exitCode !== null) {
      throw new Error(
        `kube-apiserver exited (${apiserver.exitCode}): ${await tail(dir, 'kube-apiserver.log')}`,
      );
    }
    const ca = await readCa(certDir);
    if (ca) {
      const res = await httpsGet(`${url}/readyz`, token, ca).catch((err: Error) => ({
        status: 0,
        body: err.message,
      }));
      if (res.status === 200) return ca;
      last = `${res.status} ${res.body.slice(0, 500)}`;
    }
    await sleep(250);
  }
  throw new Error(
    `kube-apiserver not ready within ${timeoutMs} ms (last: ${last}): ${await tail(dir, 'kube-apiserver.log')}`,
  );
}

/**
 * kube-apiserver writes `apiserver.crt` as the serving certificate followed by the CA that signed it;
 * the CA is the certificate that is its own issuer.
 */
async function readCa(certDir: string): Promise<string | undefined> {
  const pem = await readFile(join(certDir, 'apiserver.crt'), 'utf8').catch(() => undefined);
  if (!pem) return undefined;
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g) ?? [];
  const ca = blocks.find((b) => {
    const cert = new X509Certificate(b);
    return cert.issuer === cert.subject;
  });
  return ca ?? blocks.at(-1);
}

function kubeconfig(server: string, caPem: string, token: string): string {
  // JSON is YAML, and every kubeconfig loader reads it.
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'tessera-test',
        cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') },
      },
    ],
    users: [{ name: 'tessera-admin', user: { token } }],
    contexts: [{ name: 'tessera-test', context: { cluster: 'tessera-test', user: 'tessera-admin' } }],
    'current-context': 'tessera-test',
  });
}

async function tail(dir: string, file: string): Promise<string> {
  const text = await readFile(join(dir, file), 'utf8').catch(() => '');
  return text.split('\n').slice(-30).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
