/**
 * A private CA and the webhook's serving certificate, for clusters without cert-manager. Keys come from
 * node:crypto; node-forge only writes the X.509 structures, which node:crypto cannot. Checks use
 * node:crypto's X509Certificate.
 *
 * @module
 */
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface CertificateSet {
  caCert: string;
  cert: string;
  key: string;
}

export interface CertificateRequest {
  /** DNS names and IP addresses the serving certificate must cover; the first is its common name. */
  hosts: string[];
  /** Default 365. */
  validDays?: number;
  now?: Date;
}

const DAY_MS = 86_400_000;

function newKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const key = forge.pki.privateKeyFromPem(privateKey) as forge.pki.rsa.PrivateKey;
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

function baseCertificate(publicKey: forge.pki.PublicKey, now: Date, days: number): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = publicKey;
  // Positive 16-byte serial: a leading zero nibble keeps the DER integer from reading as negative.
  cert.serialNumber = `0${randomBytes(16).toString('hex').slice(1)}`;
  // An hour of slack for clocks that run behind the injector's.
  cert.validity.notBefore = new Date(now.getTime() - 3_600_000);
  cert.validity.notAfter = new Date(now.getTime() + days * DAY_MS);
  return cert;
}

/**
 * Creates a CA valid twice as long as the serving certificate, and the serving certificate it signs.
 *
 * @example
 * const { caCert, cert, key } = createCertificates({ hosts: ['tessera-injector.tessera-system.svc'] });
 */
export function createCertificates(request: CertificateRequest): CertificateSet {
  if (request.hosts.length === 0) throw new TypeError('hosts must name at least one DNS name or IP address');
  const now = request.now ?? new Date();
  const days = request.validDays ?? 365;

  const caKeys = newKeyPair();
  const ca = baseCertificate(caKeys.publicKey, now, days * 2);
  const caName = [{ name: 'commonName', value: 'tessera-injector-ca' }];
  ca.setSubject(caName);
  ca.setIssuer(caName);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true, pathLenConstraint: 0 },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const keys = newKeyPair();
  const cert = baseCertificate(keys.publicKey, now, days);
  cert.setSubject([{ name: 'commonName', value: request.hosts[0]! }]);
  cert.setIssuer(caName);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: request.hosts.map((h) => (isIP(h) ? { type: 7, ip: h } : { type: 2, value: h })),
    },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());

  return {
    caCert: forge.pki.certificateToPem(ca),
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(keys.privateKey),
  };
}

/**
 * Why a stored certificate set cannot be reused, or undefined when it can: it must parse, be signed by
 * its CA, match its key, cover every host and stay valid for `minRemainingDays` more.
 */
export function certificateProblem(
  set: CertificateSet,
  hosts: string[],
  options: { now?: Date; minRemainingDays?: number } = {},
): string | undefined {
  let ca: X509Certificate;
  let cert: X509Certificate;
  try {
    ca = new X509Certificate(set.caCert);
    cert = new X509Certificate(set.cert);
  } catch (err) {
    return `a certificate does not parse: ${(err as Error).message}`;
  }
  if (!cert.checkIssued(ca) || !cert.verify(ca.publicKey)) return 'the certificate is not signed by the CA';
  try {
    if (!cert.checkPrivateKey(createPrivateKey(set.key))) return 'the key does not match the certificate';
  } catch (err) {
    return `the key does not parse: ${(err as Error).message}`;
  }
  for (const host of hosts) {
    const covered = isIP(host) ? cert.checkIP(host) !== undefined : cert.checkHost(host) !== undefined;
    if (!covered) return `the certificate does not cover ${host}`;
  }
  const now = options.now ?? new Date();
  const until = new Date(now.getTime() + (options.minRemainingDays ?? 30) * DAY_MS);
  for (const c of [ca, cert]) {
    if (new Date(c.validFrom) > now) return 'a certificate is not valid yet';
    if (new Date(c.validTo) < until) return `a certificate expires on ${c.validTo}, too soon`;
  }
  return undefined;
}
