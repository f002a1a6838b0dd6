/**
 * A throwaway PKI for TLS tests, made with the `openssl` CLI: a CA and a server certificate it signs
 * for the given DNS names and IP addresses. Valid for one day; written to a temporary directory that
 * the caller removes.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  caCert: string;
  cert: string;
  key: string;
  /** Path of the CA certificate file, for settings that take a file. */
  caFile: string;
  remove(): void;
}

export function createTestPki(names: { dns: string[]; ip: string[] }): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-pki-'));
  const at = (f: string) => join(dir, f);
  const openssl = (...args: string[]) =>
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    'req',
    '-x509',
    ...ec,
    '-keyout',
    at('ca.key'),
    '-out',
    at('ca.crt'),
    '-days',
    '1',
    '-subj',
    '/CN=Tessera Test CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  openssl(
    'req',
    ...ec,
    '-keyout',
    at('server.key'),
    '-out',
    at('server.csr'),
    '-subj',
    `/CN=${names.dns[0] ?? names.ip[0]}`,
  );
  const san = [...names.dns.map((d) => `DNS:${d}`), ...names.ip.map((i) => `IP:${i}`)].join(',');
  writeFileSync(
    at('ext.cnf'),
    `subjectAltName=${san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
  );
  openssl(
    'x509',
    '-req',
    '-in',
    at('server.csr'),
    '-CA',
    at('ca.crt'),
    '-CAkey',
    at('ca.key'),
    '-CAcreateserial',
    '-out',
    at('server.crt'),
    '-days',
    '1',
    '-extfile',
    at('ext.cnf'),
  );
  return {
    caCert: readFileSync(at('ca.crt'), 'utf8'),
    cert: readFileSync(at('server.crt'), 'utf8'),
    key: readFileSync(at('server.key'), 'utf8'),
    caFile: at('ca.crt'),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
