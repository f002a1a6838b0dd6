import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { McpServer } from './mcp-server.ts';
import { toServerInput } from './registry-sync.ts';

const server = (spec: McpServer['spec']): McpServer => ({
  metadata: { name: 'gh', namespace: 'tools' },
  spec,
});
const ENDPOINT = 'http://gh.tools.svc.cluster.local/mcp';

test('a container server is an http server on the pod loopback, with its grants', () => {
  assert.deepEqual(
    toServerInput(
      server({
        container: { image: 'i', port: 9000, path: '/v1/mcp' },
        access: { grants: { users: ['a@x', 'a@x'], groups: ['eng'] } },
      }),
      ENDPOINT,
    ),
    {
      name: 'gh',
      kind: 'http',
      command: null,
      args: [],
      url: 'http://127.0.0.1:9000/v1/mcp',
      resourceUri: ENDPOINT,
      localPort: null,
      grantUsers: ['a@x'],
      grantGroups: ['eng'],
    },
  );
});

test('a stdio server keeps its command and arguments', () => {
  const s = toServerInput(
    server({ stdio: { runtime: 'python', command: 'uvx', args: ['mcp-server-time'] } }),
    ENDPOINT,
  );
  assert.deepEqual([s.kind, s.command, s.args, s.url], ['stdio', 'uvx', ['mcp-server-time'], null]);
});

test('a remote server forwards to its URL; a policyRef grants nobody yet', () => {
  const s = toServerInput(
    server({ remote: { url: 'https://mcp.example.com/mcp' }, access: { policyRef: { name: 'p' } } }),
    ENDPOINT,
  );
  assert.deepEqual(
    [s.kind, s.url, s.grantUsers, s.grantGroups],
    ['http', 'https://mcp.example.com/mcp', [], []],
  );
});
