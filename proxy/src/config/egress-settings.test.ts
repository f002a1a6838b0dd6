import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseIp } from '../egress/ip-address.ts';
import { checkAddress } from '../egress/ssrf-guard.ts';
import { readBootstrap } from './bootstrap.ts';

type Env = Record<string, string | undefined>;
const egress: Env = {
  TESSERA_PROXY_MODE: 'egress',
  TESSERA_PROXY_SERVER: 'github',
  TESSERA_PROXY_UPSTREAM_URL: 'https://api.githubcopilot.com/mcp/',
  TESSERA_MESH_TOKEN: 'mesh-secret',
};
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
const files = (path: string): string => {
  if (path === '/etc/tessera/ca.pem') return PEM;
  if (path === '/etc/tessera/not-pem') return 'hello';
  throw new Error(`ENOENT: ${path}`);
};

function problems(env: Env): string[] {
  try {
    readBootstrap(env, files);
  } catch (err) {
    return (err as Error).message
      .split('\n')
      .slice(1)
      .map((l) => l.trim());
  }
  assert.fail('expected the configuration to be refused');
}

test('egress mode to a remote server on the deprecated HTTP+SSE transport', () => {
  const b = readBootstrap(
    {
      ...egress,
      TESSERA_PROXY_UPSTREAM_URL: 'https://mcp.example.com/sse',
      TESSERA_PROXY_UPSTREAM_TRANSPORT: 'sse',
      TESSERA_PROXY_SSE_MAX_SESSIONS: '7',
    },
    files,
  );
  assert.equal(b.mode, 'egress');
  assert.equal(b.upstreamTransport, 'sse');
  assert.equal(b.upstreamUrl?.href, 'https://mcp.example.com/sse');
  assert.equal(b.sseMaxSessions, 7);
});

test('egress mode with defaults: nothing allow-listed, system roots only', () => {
  const b = readBootstrap(egress, files);
  assert.equal(b.mode, 'egress');
  assert.equal(b.upstreamUrl?.href, 'https://api.githubcopilot.com/mcp/');
  assert.deepEqual(b.egress, {
    allow: { cidrs: [], hosts: new Set(), setting: 'TESSERA_PROXY_EGRESS_ALLOW' },
    ca: undefined,
    connectTimeoutMs: 10_000,
    maxConnections: 64,
    credentialTtlMs: 300_000,
    credentialCacheSize: 10_000,
  });
});

test('egress mode with every setting', () => {
  const b = readBootstrap(
    {
      ...egress,
      TESSERA_PROXY_EGRESS_ALLOW: '10.0.0.0/8, mcp.corp.example ,fd00::/8',
      TESSERA_PROXY_EGRESS_CA_FILE: '/etc/tessera/ca.pem',
      TESSERA_PROXY_EGRESS_CONNECT_TIMEOUT_MS: '2500',
      TESSERA_PROXY_EGRESS_MAX_CONNECTIONS: '8',
      TESSERA_PROXY_CREDENTIAL_TTL_S: '60',
      TESSERA_PROXY_CREDENTIAL_CACHE_SIZE: '50',
    },
    files,
  );
  const e = b.egress!;
  assert.equal(e.ca, PEM);
  assert.equal(e.connectTimeoutMs, 2500);
  assert.equal(e.maxConnections, 8);
  assert.equal(e.credentialTtlMs, 60_000);
  assert.equal(e.credentialCacheSize, 50);
  assert.equal(checkAddress('x', parseIp('10.2.3.4')!, e.allow).allowed, true);
  assert.equal(checkAddress('mcp.corp.example', parseIp('192.168.1.1')!, e.allow).allowed, true);
  assert.equal(checkAddress('x', parseIp('fd12::1')!, e.allow).allowed, true);
});

test('other modes carry no egress settings', () => {
  const b = readBootstrap(
    { ...egress, TESSERA_PROXY_MODE: 'sidecar', TESSERA_PROXY_UPSTREAM_URL: 'http://127.0.0.1:1/mcp' },
    files,
  );
  assert.equal(b.egress, undefined);
});

test('bad egress settings are all reported', () => {
  assert.deepEqual(
    problems({
      ...egress,
      TESSERA_PROXY_UPSTREAM_URL: 'http://remote.example/mcp',
      TESSERA_PROXY_EGRESS_ALLOW: '10.0.0.0/99,*.example.com',
      TESSERA_PROXY_EGRESS_CA_FILE: '/etc/tessera/missing.pem',
      TESSERA_PROXY_EGRESS_CONNECT_TIMEOUT_MS: '5',
      TESSERA_PROXY_EGRESS_MAX_CONNECTIONS: '0',
      TESSERA_PROXY_CREDENTIAL_TTL_S: 'soon',
      TESSERA_PROXY_CREDENTIAL_CACHE_SIZE: '0',
    }),
    [
      'TESSERA_PROXY_UPSTREAM_URL: must be https in egress mode',
      'TESSERA_PROXY_EGRESS_ALLOW: "10.0.0.0/99" is neither a CIDR block, an IP address nor a host name',
      'TESSERA_PROXY_EGRESS_ALLOW: "*.example.com" is neither a CIDR block, an IP address nor a host name',
      'TESSERA_PROXY_EGRESS_CA_FILE: cannot be read: ENOENT: /etc/tessera/missing.pem',
      'TESSERA_PROXY_EGRESS_CONNECT_TIMEOUT_MS: 5 is outside 100..120000',
      'TESSERA_PROXY_EGRESS_MAX_CONNECTIONS: 0 is outside 1..10000',
      'TESSERA_PROXY_CREDENTIAL_TTL_S: "soon" is not a whole number',
      'TESSERA_PROXY_CREDENTIAL_CACHE_SIZE: 0 is outside 1..1000000',
    ],
  );
  assert.deepEqual(problems({ ...egress, TESSERA_PROXY_EGRESS_CA_FILE: '/etc/tessera/not-pem' }), [
    'TESSERA_PROXY_EGRESS_CA_FILE: holds no PEM certificate',
  ]);
  assert.deepEqual(problems({ ...egress, TESSERA_PROXY_UPSTREAM_URL: undefined }), [
    'TESSERA_PROXY_UPSTREAM_URL: is required in egress mode',
  ]);
});

test('a sidecar is never pointed at an https (remote) server', () => {
  assert.deepEqual(problems({ ...egress, TESSERA_PROXY_MODE: 'sidecar' }), [
    'TESSERA_PROXY_UPSTREAM_URL: is https: a remote server needs TESSERA_PROXY_MODE=egress',
  ]);
});
