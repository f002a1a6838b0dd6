/**
 * The injector's settings, read from the environment and validated as a whole.
 *
 * @module
 */

/** A setting of the injector, as documented in the README. */
export const settings = {
  TESSERA_INJECTOR_PORT: 'HTTPS port of /mutate, /healthz and /readyz (default 9443)',
  TESSERA_INJECTOR_HOST: 'address to listen on (default 0.0.0.0)',
  TESSERA_INJECTOR_CERT_MODE: 'self-signed (the injector issues and stores its certificate) or cert-manager',
  TESSERA_INJECTOR_TLS_DIR:
    'cert-manager mode: directory holding tls.crt and tls.key (default /etc/tessera-injector/tls)',
  TESSERA_INJECTOR_WEBHOOK_NAME:
    'the MutatingWebhookConfiguration whose caBundle is kept current (default tessera-injector)',
  TESSERA_INJECTOR_NAMESPACE: "the injector's namespace (default: its service account's namespace)",
  TESSERA_INJECTOR_SERVICE:
    'the Service in front of the injector, named in the certificate (default tessera-injector)',
  TESSERA_INJECTOR_TLS_SECRET:
    'self-signed mode: the Secret shared by replicas (default tessera-injector-tls)',
  TESSERA_INJECTOR_EXTRA_HOSTS:
    'self-signed mode: more DNS names or IPs for the certificate, comma-separated',
  TESSERA_INJECTOR_NATIVE_SIDECAR: 'auto (from the API server version), true or false (default auto)',
  TESSERA_PROXY_IMAGE: 'the proxy image injected into pods (required)',
  TESSERA_MESH_ADDRESS: "the control plane's mesh URL the proxies connect to (required)",
} as const;

export interface InjectorConfig {
  host: string;
  port: number;
  certMode: 'self-signed' | 'cert-manager';
  tlsDir: string;
  webhookName: string;
  namespace: string;
  service: string;
  tlsSecret: string;
  extraHosts: string[];
  nativeSidecar: 'auto' | boolean;
  proxyImage: string;
  meshAddress: string;
}

type Env = Record<string, string | undefined>;

const DNS_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

/**
 * Reads and validates the configuration.
 *
 * @throws TypeError listing every invalid or missing setting.
 */
export function readConfig(env: Env, readFile: (path: string) => string): InjectorConfig {
  const problems: string[] = [];
  const bad = (name: keyof typeof settings, message: string) => problems.push(`${name}: ${message}`);

  const rawPort = env.TESSERA_INJECTOR_PORT || '9443';
  const port = Number(rawPort);
  if (!/^\d+$/.test(rawPort) || port < 1 || port > 65535)
    bad('TESSERA_INJECTOR_PORT', `"${rawPort}" is not a port`);
  const certMode = env.TESSERA_INJECTOR_CERT_MODE || 'self-signed';
  if (certMode !== 'self-signed' && certMode !== 'cert-manager') {
    bad('TESSERA_INJECTOR_CERT_MODE', `"${certMode}" must be self-signed or cert-manager`);
  }
  let namespace = env.TESSERA_INJECTOR_NAMESPACE ?? '';
  if (!namespace) {
    try {
      namespace = readFile(SERVICE_ACCOUNT_NAMESPACE).trim();
    } catch {
      namespace = '';
    }
  }
  if (!DNS_NAME.test(namespace)) bad('TESSERA_INJECTOR_NAMESPACE', `"${namespace}" is not a namespace name`);
  const names = {
    webhookName: env.TESSERA_INJECTOR_WEBHOOK_NAME || 'tessera-injector',
    service: env.TESSERA_INJECTOR_SERVICE || 'tessera-injector',
    tlsSecret: env.TESSERA_INJECTOR_TLS_SECRET || 'tessera-injector-tls',
  };
  for (const [key, name] of [
    ['TESSERA_INJECTOR_WEBHOOK_NAME', names.webhookName],
    ['TESSERA_INJECTOR_SERVICE', names.service],
    ['TESSERA_INJECTOR_TLS_SECRET', names.tlsSecret],
  ] as const) {
    if (!DNS_NAME.test(name)) bad(key, `"${name}" is not a Kubernetes object name`);
  }
  const extraHosts = (env.TESSERA_INJECTOR_EXTRA_HOSTS ?? '')
    .split(',')
    .map((h) => h.trim())
    .filter((h) => h !== '');
  const nativeRaw = env.TESSERA_INJECTOR_NATIVE_SIDECAR || 'auto';
  if (!['auto', 'true', 'false'].includes(nativeRaw)) {
    bad('TESSERA_INJECTOR_NATIVE_SIDECAR', `"${nativeRaw}" must be auto, true or false`);
  }
  const proxyImage = env.TESSERA_PROXY_IMAGE ?? '';
  if (!proxyImage || /\s/.test(proxyImage)) bad('TESSERA_PROXY_IMAGE', 'is required (an image reference)');
  const meshAddress = env.TESSERA_MESH_ADDRESS ?? '';
  if (!/^https?:\/\/[^\s]+$/.test(meshAddress) || !URL.canParse(meshAddress)) {
    bad('TESSERA_MESH_ADDRESS', `"${meshAddress}" must be an http or https URL`);
  }
  if (problems.length > 0) throw new TypeError(`invalid injector configuration:\n  ${problems.join('\n  ')}`);
  return {
    host: env.TESSERA_INJECTOR_HOST || '0.0.0.0',
    port,
    certMode: certMode as InjectorConfig['certMode'],
    tlsDir: env.TESSERA_INJECTOR_TLS_DIR || '/etc/tessera-injector/tls',
    namespace,
    ...names,
    extraHosts,
    nativeSidecar: nativeRaw === 'auto' ? 'auto' : nativeRaw === 'true',
    proxyImage,
    meshAddress,
  };
}

/** The names the serving certificate must cover, as the API server dials the Service. */
export function serviceHosts(config: InjectorConfig): string[] {
  const { service, namespace } = config;
  return [
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
    `${service}.${namespace}`,
    service,
    ...config.extraHosts,
  ];
}
