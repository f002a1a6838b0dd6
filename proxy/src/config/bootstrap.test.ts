import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import { parseListen, readBootstrap, settings } from './bootstrap.ts';

type Env = Record<string, string | undefined>;

const sidecar: Env = {
  TESSERA_PROXY_SERVER: 'github',
  TESSERA_PROXY_UPSTREAM_URL: 'http://127.0.0.1:8080/mcp',
  TESSERA_MESH_TOKEN: 'mesh-secret',
};

const stdio: Env = {
  TESSERA_PROXY_MODE: 'stdio',
  TESSERA_PROXY_SERVER: 'everything',
  TESSERA_PROXY_STDIO_COMMAND: 'npx',
  TESSERA_MESH_TOKEN: 'mesh-secret',
};

function noFile(path: string): string {
  throw new Error(`unexpected read of ${path}`);
}

/** Reads `env` expecting failure, and returns the problem lines of the TypeError. */
function problems(env: Env, readFile: (path: string) => string = noFile): string[] {
  let caught: unknown;
  try {
    readBootstrap(env, readFile);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TypeError, `expected a TypeError, got ${String(caught)}`);
  const [head, ...lines] = caught.message.split('\n');
  assert.equal(head, 'invalid proxy configuration:');
  return lines.map((l) => l.trim());
}

describe('readBootstrap: valid configurations', () => {
  test('sidecar mode with defaults', () => {
    const b = readBootstrap(sidecar, noFile);
    assert.equal(b.mode, 'sidecar');
    assert.equal(b.server, 'github');
    assert.equal(b.nodeId, `${hostname()}-${process.pid}`);
    assert.equal(b.listenHost, '127.0.0.1');
    assert.equal(b.listenPort, 15001);
    assert.equal(b.upstreamUrl?.href, 'http://127.0.0.1:8080/mcp');
    assert.equal(b.stdioCommand, undefined);
    assert.deepEqual(b.stdioArgs, []);
    assert.equal(b.stdioMaxSessions, 32);
    assert.equal(b.stdioIdleTimeoutMs, 900_000);
    assert.equal(b.upstreamTransport, 'streamable-http');
    assert.equal(b.sseMaxSessions, 32);
    assert.equal(b.maxPendingRequests, 64);
    assert.equal(b.statelessChannelsPerPrincipal, 4);
    assert.equal(b.controlPlaneUrl.href, 'http://127.0.0.1:15010/');
    assert.deepEqual(
      b.controlPlaneUrls.map((u) => u.href),
      ['http://127.0.0.1:15010/'],
    );
    assert.equal(b.meshIdleTimeoutMs, 60_000);
    assert.equal(b.meshToken, 'mesh-secret');
    assert.equal(b.maxBodyBytes, 4 * 1024 * 1024);
    assert.equal(b.maxStreamsPerPrincipal, 16);
    assert.equal(b.logLevel, 'info');
  });

  test('filter allow-list: read in every mode, empty by default', () => {
    assert.equal(readBootstrap(sidecar, noFile).filterAllow.cidrs.length, 0);
    const b = readBootstrap({ ...stdio, TESSERA_PROXY_FILTER_ALLOW: '127.0.0.1, dlp.internal' }, noFile);
    assert.equal(b.filterAllow.cidrs.length, 1);
    assert.deepEqual([...b.filterAllow.hosts], ['dlp.internal']);
    assert.equal(b.filterAllow.setting, 'TESSERA_PROXY_FILTER_ALLOW');
    assert.deepEqual(problems({ ...sidecar, TESSERA_PROXY_FILTER_ALLOW: 'http://x/' }), [
      'TESSERA_PROXY_FILTER_ALLOW: "http://x/" is neither a CIDR block, an IP address nor a host name',
    ]);
  });

  test('sidecar mode over the HTTP+SSE transport, with its limits', () => {
    const b = readBootstrap(
      {
        ...sidecar,
        TESSERA_PROXY_UPSTREAM_URL: 'http://127.0.0.1:3001/sse',
        TESSERA_PROXY_UPSTREAM_TRANSPORT: 'sse',
        TESSERA_PROXY_SSE_MAX_SESSIONS: '5',
        TESSERA_PROXY_SSE_IDLE_TIMEOUT_MS: '60000',
        TESSERA_PROXY_MAX_PENDING_REQUESTS: '8',
        TESSERA_PROXY_STATELESS_CHANNELS_PER_PRINCIPAL: '2',
      },
      noFile,
    );
    assert.equal(b.upstreamTransport, 'sse');
    assert.equal(b.sseMaxSessions, 5);
    assert.equal(b.sseIdleTimeoutMs, 60_000);
    assert.equal(b.maxPendingRequests, 8);
    assert.equal(b.statelessChannelsPerPrincipal, 2);
  });

  test('an unknown transport, or sse in stdio mode, is refused', () => {
    assert.throws(
      () => readBootstrap({ ...sidecar, TESSERA_PROXY_UPSTREAM_TRANSPORT: 'websocket' }, noFile),
      /TESSERA_PROXY_UPSTREAM_TRANSPORT: "websocket" must be streamable-http or sse/,
    );
    assert.throws(
      () => readBootstrap({ ...stdio, TESSERA_PROXY_UPSTREAM_TRANSPORT: 'sse' }, noFile),
      /TESSERA_PROXY_UPSTREAM_TRANSPORT: sse names an HTTP transport; stdio mode has none/,
    );
    assert.throws(
      () => readBootstrap({ ...sidecar, TESSERA_PROXY_MAX_PENDING_REQUESTS: '0' }, noFile),
      /TESSERA_PROXY_MAX_PENDING_REQUESTS: 0 is outside/,
    );
  });

  test('stdio mode with defaults', () => {
    const b = readBootstrap(stdio, noFile);
    assert.equal(b.mode, 'stdio');
    assert.equal(b.server, 'everything');
    assert.equal(b.stdioCommand, 'npx');
    assert.deepEqual(b.stdioArgs, []);
    assert.equal(b.upstreamUrl, undefined);
    assert.equal(b.stdioMaxSessions, 32);
  });

  test('every setting given explicitly', () => {
    const b = readBootstrap(
      {
        ...stdio,
        TESSERA_PROXY_NODE_ID: 'pod-123',
        TESSERA_PROXY_LISTEN: '0.0.0.0:9000',
        TESSERA_PROXY_STDIO_ARGS: '["-y","@modelcontextprotocol/server-everything","a b"]',
        TESSERA_PROXY_STDIO_MAX_SESSIONS: '10000',
        TESSERA_PROXY_STDIO_IDLE_TIMEOUT_MS: '1000',
        TESSERA_CONTROL_PLANE_URL: 'https://cp.example:443/',
        TESSERA_PROXY_MAX_BODY_BYTES: '1024',
        TESSERA_PROXY_MAX_STREAMS_PER_PRINCIPAL: '1',
        TESSERA_PROXY_AUDIT_DURABILITY: 'disk',
        TESSERA_LOG_LEVEL: 'debug',
      },
      noFile,
    );
    assert.equal(b.nodeId, 'pod-123');
    assert.equal(b.listenHost, '0.0.0.0');
    assert.equal(b.listenPort, 9000);
    assert.deepEqual(b.stdioArgs, ['-y', '@modelcontextprotocol/server-everything', 'a b']);
    assert.equal(b.stdioMaxSessions, 10_000);
    assert.equal(b.stdioIdleTimeoutMs, 1000);
    assert.equal(b.controlPlaneUrl.href, 'https://cp.example/');
    assert.equal(b.maxBodyBytes, 1024);
    assert.equal(b.maxStreamsPerPrincipal, 1);
    assert.equal(b.auditDurability, 'disk');
    assert.equal(b.logLevel, 'debug');
  });

  test('empty strings mean "use the default"', () => {
    const b = readBootstrap(
      {
        ...sidecar,
        TESSERA_PROXY_MODE: '',
        TESSERA_PROXY_LISTEN: '',
        TESSERA_PROXY_STDIO_MAX_SESSIONS: '',
        TESSERA_CONTROL_PLANE_URL: '',
        TESSERA_PROXY_AUDIT_DURABILITY: '',
        TESSERA_LOG_LEVEL: '',
      },
      noFile,
    );
    assert.equal(b.mode, 'sidecar');
    assert.equal(b.auditDurability, 'process');
    assert.equal(b.listenPort, 15001);
    assert.equal(b.stdioMaxSessions, 32);
    assert.equal(b.controlPlaneUrl.href, 'http://127.0.0.1:15010/');
    assert.equal(b.logLevel, 'info');
  });

  test('allowed Host names: lower-cased, empty by default; a port, a scheme or a path is refused', () => {
    assert.deepEqual(readBootstrap(sidecar, noFile).allowedHosts, []);
    assert.deepEqual(
      readBootstrap({ ...sidecar, TESSERA_PROXY_ALLOWED_HOSTS: ' Dev.Internal , mcp.local' }, noFile)
        .allowedHosts,
      ['dev.internal', 'mcp.local'],
    );
    assert.deepEqual(
      problems({ ...sidecar, TESSERA_PROXY_ALLOWED_HOSTS: 'dev.internal:8080,https://x.example,a/b' }),
      [
        'TESSERA_PROXY_ALLOWED_HOSTS: "dev.internal:8080" is not a host name like dev.internal (no port, no scheme)',
        'TESSERA_PROXY_ALLOWED_HOSTS: "https://x.example" is not a host name like dev.internal (no port, no scheme)',
        'TESSERA_PROXY_ALLOWED_HOSTS: "a/b" is not a host name like dev.internal (no port, no scheme)',
      ],
    );
  });

  test('an IPv6 listen address', () => {
    const b = readBootstrap({ ...sidecar, TESSERA_PROXY_LISTEN: '[::1]:15001' }, noFile);
    assert.equal(b.listenHost, '::1');
    assert.equal(b.listenPort, 15001);
  });

  test('the mesh token is read from the file, trimmed, through the injected readFile', () => {
    const reads: string[] = [];
    const b = readBootstrap(
      { ...sidecar, TESSERA_MESH_TOKEN: undefined, TESSERA_MESH_TOKEN_FILE: '/var/run/tessera/token' },
      (path) => {
        reads.push(path);
        return '  file-secret\n';
      },
    );
    assert.equal(b.meshToken, 'file-secret');
    assert.deepEqual(reads, ['/var/run/tessera/token']);
  });

  test('TESSERA_MESH_TOKEN wins over the file, which is then not read', () => {
    const b = readBootstrap({ ...sidecar, TESSERA_MESH_TOKEN_FILE: '/nope' }, noFile);
    assert.equal(b.meshToken, 'mesh-secret');
  });

  test('the settings table documents every variable read', () => {
    for (const name of [
      'TESSERA_PROXY_MODE',
      'TESSERA_PROXY_SERVER',
      'TESSERA_PROXY_LISTEN',
      'TESSERA_PROXY_UPSTREAM_URL',
      'TESSERA_PROXY_STDIO_COMMAND',
      'TESSERA_PROXY_STDIO_ARGS',
      'TESSERA_MESH_TOKEN',
      'TESSERA_MESH_TOKEN_FILE',
      'TESSERA_PROXY_AUDIT_DURABILITY',
      'TESSERA_LOG_LEVEL',
    ]) {
      assert.ok(name in settings, `${name} is not documented`);
    }
  });
});

describe('readBootstrap: invalid configurations', () => {
  test('every problem is reported together in one TypeError', () => {
    const lines = problems({
      TESSERA_PROXY_MODE: 'sidecar',
      TESSERA_PROXY_SERVER: 'Not_A_Label',
      TESSERA_PROXY_LISTEN: 'nowhere',
      TESSERA_PROXY_STDIO_ARGS: '{"a":1}',
      TESSERA_PROXY_STDIO_MAX_SESSIONS: '1.5',
      TESSERA_PROXY_STDIO_IDLE_TIMEOUT_MS: '999',
      TESSERA_CONTROL_PLANE_URL: 'ftp://cp',
      TESSERA_PROXY_MAX_BODY_BYTES: '-1',
      TESSERA_PROXY_MAX_STREAMS_PER_PRINCIPAL: '0',
      TESSERA_PROXY_AUDIT_DURABILITY: 'fsync',
      TESSERA_LOG_LEVEL: 'loud',
    });
    assert.deepEqual(lines, [
      'TESSERA_PROXY_SERVER: "Not_A_Label" must be a DNS label (lower-case letters, digits, "-")',
      'TESSERA_PROXY_LISTEN: "nowhere" must be host:port',
      'TESSERA_PROXY_UPSTREAM_URL: is required in sidecar mode',
      'TESSERA_PROXY_STDIO_ARGS: must be a JSON array of strings',
      'TESSERA_MESH_TOKEN: is required (or TESSERA_MESH_TOKEN_FILE)',
      'TESSERA_LOG_LEVEL: "loud" must be debug, info, warn or error',
      'TESSERA_PROXY_AUDIT_DURABILITY: "fsync" must be process or disk',
      'TESSERA_PROXY_STDIO_MAX_SESSIONS: "1.5" is not a whole number',
      'TESSERA_PROXY_STDIO_IDLE_TIMEOUT_MS: 999 is outside 1000..86400000',
      'TESSERA_CONTROL_PLANE_URL: "ftp://cp" must be http or https',
      'TESSERA_PROXY_MAX_BODY_BYTES: "-1" is not a whole number',
      'TESSERA_PROXY_MAX_STREAMS_PER_PRINCIPAL: 0 is outside 1..100000',
    ]);
  });

  test('several control-plane addresses, in order; each must be a URL', () => {
    const b = readBootstrap(
      {
        ...sidecar,
        TESSERA_CONTROL_PLANE_URL: 'http://cp-0:15010, http://cp-1:15010',
        TESSERA_MESH_IDLE_TIMEOUT_S: '5',
      },
      noFile,
    );
    assert.deepEqual(
      b.controlPlaneUrls.map((u) => u.href),
      ['http://cp-0:15010/', 'http://cp-1:15010/'],
    );
    assert.equal(b.controlPlaneUrl.href, 'http://cp-0:15010/');
    assert.equal(b.meshIdleTimeoutMs, 5_000);
    assert.deepEqual(problems({ ...sidecar, TESSERA_CONTROL_PLANE_URL: 'http://cp-0:1,nope' }), [
      'TESSERA_CONTROL_PLANE_URL: "nope" is not a URL',
    ]);
    assert.deepEqual(problems({ ...sidecar, TESSERA_MESH_IDLE_TIMEOUT_S: '0' }), [
      'TESSERA_MESH_IDLE_TIMEOUT_S: 0 is outside 1..3600',
    ]);
  });

  test('a token file is remembered for re-reading; an inline token is not', () => {
    const file = { ...sidecar, TESSERA_MESH_TOKEN: undefined, TESSERA_MESH_TOKEN_FILE: '/var/run/t' };
    assert.equal(readBootstrap(file, () => 'tok\n').meshTokenFile, '/var/run/t');
    assert.equal(readBootstrap({ ...file, TESSERA_MESH_TOKEN: 'x' }, () => 'tok').meshTokenFile, undefined);
  });

  test('an unknown mode', () => {
    const lines = problems({ ...sidecar, TESSERA_PROXY_MODE: 'ambient' });
    assert.deepEqual(lines, ['TESSERA_PROXY_MODE: "ambient" must be sidecar, stdio or egress']);
  });

  for (const name of ['', 'UPPER', '-lead', 'trail-', 'under_score', 'a.b', 'x'.repeat(64)]) {
    test(`server name ${JSON.stringify(name)} is refused`, () => {
      const lines = problems({ ...sidecar, TESSERA_PROXY_SERVER: name });
      assert.equal(lines.length, 1);
      assert.match(lines[0]!, /^TESSERA_PROXY_SERVER: .* must be a DNS label/);
    });
  }

  test('a missing server name is refused', () => {
    assert.match(problems({ ...sidecar, TESSERA_PROXY_SERVER: undefined })[0]!, /^TESSERA_PROXY_SERVER:/);
  });

  test('the longest DNS label and a one-character name are accepted', () => {
    assert.equal(
      readBootstrap({ ...sidecar, TESSERA_PROXY_SERVER: 'a'.repeat(63) }, noFile).server,
      'a'.repeat(63),
    );
    assert.equal(readBootstrap({ ...sidecar, TESSERA_PROXY_SERVER: '7' }, noFile).server, '7');
  });

  for (const listen of ['127.0.0.1', ':80', '127.0.0.1:99999', '127.0.0.1:65536', '::1:80', 'host:port']) {
    test(`listen address ${JSON.stringify(listen)} is refused`, () => {
      assert.deepEqual(problems({ ...sidecar, TESSERA_PROXY_LISTEN: listen }), [
        `TESSERA_PROXY_LISTEN: "${listen}" must be host:port`,
      ]);
    });
  }

  test('sidecar mode needs an upstream URL', () => {
    assert.deepEqual(problems({ ...sidecar, TESSERA_PROXY_UPSTREAM_URL: undefined }), [
      'TESSERA_PROXY_UPSTREAM_URL: is required in sidecar mode',
    ]);
  });

  test('an upstream URL that is not a URL is reported once, as not a URL', () => {
    assert.deepEqual(problems({ ...sidecar, TESSERA_PROXY_UPSTREAM_URL: 'not a url' }), [
      'TESSERA_PROXY_UPSTREAM_URL: "not a url" is not a URL',
    ]);
  });

  test('an upstream URL that is not http(s) is refused', () => {
    assert.deepEqual(problems({ ...sidecar, TESSERA_PROXY_UPSTREAM_URL: 'file:///etc/passwd' }), [
      'TESSERA_PROXY_UPSTREAM_URL: "file:///etc/passwd" must be http or https',
    ]);
  });

  test('stdio mode needs a command', () => {
    assert.deepEqual(problems({ ...stdio, TESSERA_PROXY_STDIO_COMMAND: undefined }), [
      'TESSERA_PROXY_STDIO_COMMAND: is required in stdio mode',
    ]);
    assert.deepEqual(problems({ ...stdio, TESSERA_PROXY_STDIO_COMMAND: '' }), [
      'TESSERA_PROXY_STDIO_COMMAND: is required in stdio mode',
    ]);
  });

  test('stdio mode does not need an upstream URL, but validates one given', () => {
    assert.equal(readBootstrap(stdio, noFile).upstreamUrl, undefined);
    assert.deepEqual(problems({ ...stdio, TESSERA_PROXY_UPSTREAM_URL: 'nope' }), [
      'TESSERA_PROXY_UPSTREAM_URL: "nope" is not a URL',
    ]);
  });

  for (const args of ['not json', '{}', '"a"', '[1]', '["a",null]', '[["a"]]']) {
    test(`STDIO_ARGS ${args} is refused`, () => {
      assert.deepEqual(problems({ ...stdio, TESSERA_PROXY_STDIO_ARGS: args }), [
        'TESSERA_PROXY_STDIO_ARGS: must be a JSON array of strings',
      ]);
    });
  }

  for (const raw of ['1.5', '-1', '1e3', '0x10', ' 5', 'ten']) {
    test(`the non-whole number ${JSON.stringify(raw)} is refused`, () => {
      assert.deepEqual(problems({ ...stdio, TESSERA_PROXY_STDIO_MAX_SESSIONS: raw }), [
        `TESSERA_PROXY_STDIO_MAX_SESSIONS: "${raw}" is not a whole number`,
      ]);
    });
  }

  test('numbers out of range are refused, naming the range', () => {
    assert.deepEqual(
      problems({
        ...stdio,
        TESSERA_PROXY_STDIO_MAX_SESSIONS: '0',
        TESSERA_PROXY_STDIO_IDLE_TIMEOUT_MS: '86400001',
        TESSERA_PROXY_MAX_BODY_BYTES: '1023',
      }),
      [
        'TESSERA_PROXY_STDIO_MAX_SESSIONS: 0 is outside 1..10000',
        'TESSERA_PROXY_STDIO_IDLE_TIMEOUT_MS: 86400001 is outside 1000..86400000',
        'TESSERA_PROXY_MAX_BODY_BYTES: 1023 is outside 1024..1073741824',
      ],
    );
  });

  test('a missing mesh token is refused', () => {
    assert.deepEqual(problems({ ...sidecar, TESSERA_MESH_TOKEN: undefined }), [
      'TESSERA_MESH_TOKEN: is required (or TESSERA_MESH_TOKEN_FILE)',
    ]);
    assert.deepEqual(problems({ ...sidecar, TESSERA_MESH_TOKEN: '' }), [
      'TESSERA_MESH_TOKEN: is required (or TESSERA_MESH_TOKEN_FILE)',
    ]);
  });

  test('an unreadable token file is reported with the reason', () => {
    const lines = problems(
      { ...sidecar, TESSERA_MESH_TOKEN: undefined, TESSERA_MESH_TOKEN_FILE: '/missing' },
      () => {
        throw new Error("ENOENT: no such file or directory, open '/missing'");
      },
    );
    assert.deepEqual(lines, [
      "TESSERA_MESH_TOKEN_FILE: cannot be read: ENOENT: no such file or directory, open '/missing'",
      'TESSERA_MESH_TOKEN: is required (or TESSERA_MESH_TOKEN_FILE)',
    ]);
  });

  test('a token file holding only whitespace counts as no token', () => {
    assert.deepEqual(
      problems({ ...sidecar, TESSERA_MESH_TOKEN: undefined, TESSERA_MESH_TOKEN_FILE: '/empty' }, () => ' \n'),
      ['TESSERA_MESH_TOKEN: is required (or TESSERA_MESH_TOKEN_FILE)'],
    );
  });

  test('a control plane URL that is not a URL is refused', () => {
    assert.deepEqual(problems({ ...sidecar, TESSERA_CONTROL_PLANE_URL: '::' }), [
      'TESSERA_CONTROL_PLANE_URL: "::" is not a URL',
    ]);
  });

  test('the environment is not modified', () => {
    const env: Env = { ...sidecar, TESSERA_PROXY_MODE: 'bad', TESSERA_PROXY_LISTEN: 'x' };
    const before = { ...env };
    problems(env);
    assert.deepEqual(env, before);
  });
});

describe('parseListen', () => {
  test('host:port', () => {
    assert.deepEqual(parseListen('127.0.0.1:15001'), { host: '127.0.0.1', port: 15001 });
    assert.deepEqual(parseListen('localhost:0'), { host: 'localhost', port: 0 });
    assert.deepEqual(parseListen('0.0.0.0:65535'), { host: '0.0.0.0', port: 65535 });
  });

  test('a bracketed IPv6 host loses its brackets', () => {
    assert.deepEqual(parseListen('[::1]:80'), { host: '::1', port: 80 });
    assert.deepEqual(parseListen('[::]:8080'), { host: '::', port: 8080 });
    assert.deepEqual(parseListen('[::ffff:127.0.0.1]:1'), { host: '::ffff:127.0.0.1', port: 1 });
  });

  test('a port above 65535 is refused', () => {
    assert.equal(parseListen('127.0.0.1:65536'), undefined);
    assert.equal(parseListen('[::1]:99999'), undefined);
  });

  test('malformed addresses are refused', () => {
    for (const raw of [
      '',
      '127.0.0.1',
      ':80',
      '::1:80',
      '[::1]',
      '[::1]80',
      'h:123456',
      'h:-1',
      'h:8o',
      '[zz]:80',
      'a:b:80',
    ]) {
      assert.equal(parseListen(raw), undefined, raw);
    }
  });

  test('regression: brackets around a host that is not IPv6 are refused, not silently stripped', () => {
    for (const raw of ['[localhost]:80', '[abc:80', 'abc]:80', '[127.0.0.1:80']) {
      assert.equal(parseListen(raw), undefined, raw);
    }
  });
});
