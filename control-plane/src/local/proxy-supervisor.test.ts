import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { McpServerRow } from '../db/entities/mcp-server.ts';
import { auditSettings, egressSettings, proxyEnv } from './proxy-supervisor.ts';

const options = {
  meshUrl: 'http://127.0.0.1:15010',
  meshToken: 'm'.repeat(40),
  logLevel: 'info',
  stateDir: '/var/lib/tessera/proxies',
  log: () => {},
};
const row = (fields: Partial<McpServerRow>): McpServerRow =>
  ({
    name: 'files',
    kind: 'http',
    command: null,
    args: [],
    url: null,
    resourceUri: 'http://127.0.0.1:15001/mcp',
    localPort: 15001,
    grantUsers: [],
    grantGroups: [],
    ...fields,
  }) as McpServerRow;

test('a plain-http server gets a sidecar, an https one an egress proxy, a command a stdio proxy', () => {
  const sidecar = proxyEnv(row({ url: 'http://127.0.0.1:8080/mcp' }), options);
  assert.equal(sidecar.TESSERA_PROXY_MODE, 'sidecar');
  assert.equal(sidecar.TESSERA_PROXY_UPSTREAM_URL, 'http://127.0.0.1:8080/mcp');

  const egress = proxyEnv(row({ url: 'https://mcp.example.com/mcp' }), options);
  assert.equal(egress.TESSERA_PROXY_MODE, 'egress');
  assert.equal(egress.TESSERA_PROXY_UPSTREAM_URL, 'https://mcp.example.com/mcp');

  assert.equal(sidecar.TESSERA_PROXY_UPSTREAM_TRANSPORT, undefined);
  assert.equal(egress.TESSERA_PROXY_UPSTREAM_TRANSPORT, undefined);
  const sse = proxyEnv(row({ kind: 'sse', url: 'http://127.0.0.1:3001/sse' }), options);
  assert.equal(sse.TESSERA_PROXY_MODE, 'sidecar');
  assert.equal(sse.TESSERA_PROXY_UPSTREAM_TRANSPORT, 'sse');
  const remoteSse = proxyEnv(row({ kind: 'sse', url: 'https://mcp.example.com/sse' }), options);
  assert.equal(remoteSse.TESSERA_PROXY_MODE, 'egress');
  assert.equal(remoteSse.TESSERA_PROXY_UPSTREAM_TRANSPORT, 'sse');

  const stdio = proxyEnv(row({ kind: 'stdio', command: 'npx', args: ['-y', 'server-memory'] }), options);
  assert.equal(stdio.TESSERA_PROXY_MODE, 'stdio');
  assert.equal(stdio.TESSERA_PROXY_STDIO_COMMAND, 'npx');
  assert.equal(stdio.TESSERA_PROXY_STDIO_ARGS, '["-y","server-memory"]');
  assert.equal(stdio.TESSERA_PROXY_UPSTREAM_URL, undefined);
});

test('each proxy gets its own listener, state directories and a mesh token bound to its server', () => {
  const env = proxyEnv(row({ url: 'https://mcp.example.com/mcp' }), options);
  assert.equal(env.TESSERA_PROXY_LISTEN, '127.0.0.1:15001');
  assert.equal(env.TESSERA_PROXY_SNAPSHOT_DIR, '/var/lib/tessera/proxies/files/snapshot');
  assert.equal(env.TESSERA_PROXY_AUDIT_SPOOL_DIR, '/var/lib/tessera/proxies/files/audit-spool');
  assert.notEqual(env.TESSERA_MESH_TOKEN, options.meshToken, 'never the mesh secret itself');
  assert.match(env.TESSERA_MESH_TOKEN!, /files/);
});

test('local proxies take the operator’s audit durability, when it is set', () => {
  assert.deepEqual(auditSettings({ TESSERA_PROXY_AUDIT_DURABILITY: 'disk', TESSERA_PROXY_MODE: 'egress' }), {
    TESSERA_PROXY_AUDIT_DURABILITY: 'disk',
  });
  assert.deepEqual(auditSettings({ TESSERA_PROXY_AUDIT_DURABILITY: '' }), {});
  assert.deepEqual(auditSettings({}), {});
});

test('local egress proxies take the operator’s egress settings, and nothing else, from the environment', () => {
  assert.deepEqual(
    egressSettings({
      TESSERA_PROXY_EGRESS_ALLOW: '10.0.0.0/8',
      TESSERA_PROXY_EGRESS_CA_FILE: '/etc/tessera/ca.pem',
      TESSERA_PROXY_CREDENTIAL_TTL_S: '60',
      TESSERA_PROXY_MODE: 'sidecar',
      TESSERA_ADMIN_TOKEN: 'secret',
      AWS_SECRET_ACCESS_KEY: 'secret',
      TESSERA_PROXY_EGRESS_UNSET: undefined,
    }),
    {
      TESSERA_PROXY_EGRESS_ALLOW: '10.0.0.0/8',
      TESSERA_PROXY_EGRESS_CA_FILE: '/etc/tessera/ca.pem',
      TESSERA_PROXY_CREDENTIAL_TTL_S: '60',
    },
  );
});
