import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { describe, test } from 'node:test';
import { readSettings, settingsDoc } from './config.ts';

type Env = Record<string, string | undefined>;

const CWD = '/srv/tessera';
const TOKEN = 'x'.repeat(32);

/** Reads `env` expecting failure and returns the problem lines. */
function problems(env: Env): string[] {
  let caught: unknown;
  try {
    readSettings(env, CWD);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof TypeError, `expected a TypeError, got ${String(caught)}`);
  const [head, ...lines] = caught.message.split('\n');
  assert.equal(head, 'invalid control-plane configuration:');
  return lines.map((l) => l.trim());
}

describe('readSettings: login sources', () => {
  test('an OIDC issuer brings its client settings, with defaults for the rest', () => {
    const s = readSettings(
      { TESSERA_OIDC_ISSUER: 'https://idp.example.com/realms/x/', TESSERA_OIDC_CLIENT_ID: 'tessera' },
      CWD,
    );
    assert.deepEqual(s.oidc, {
      issuer: 'https://idp.example.com/realms/x/',
      clientId: 'tessera',
      clientSecret: undefined,
      scopes: 'openid email profile',
      groupsClaim: 'groups',
      label: 'single sign-on',
    });
  });

  test('incomplete or invalid login settings are refused together', () => {
    const lines = problems({
      TESSERA_OIDC_ISSUER: 'https://idp.example.com?x=1',
      TESSERA_GITHUB_CLIENT_ID: 'gh',
      TESSERA_ADMIN_PASSWORD: 'short',
    });
    assert.ok(
      lines.some((l) => l.startsWith('TESSERA_OIDC_ISSUER:')),
      lines.join('\n'),
    );
    assert.ok(lines.some((l) => l.startsWith('TESSERA_GITHUB_CLIENT_SECRET: required')));
    assert.ok(lines.some((l) => l.startsWith('TESSERA_ADMIN_PASSWORD: must be at least 12')));
    assert.ok(!lines.join(' ').includes('short'), 'the password is never echoed');
    const noOpenid = problems({
      TESSERA_OIDC_ISSUER: 'https://idp.example.com',
      TESSERA_OIDC_SCOPES: 'email',
    });
    assert.ok(noOpenid.some((l) => l.startsWith('TESSERA_OIDC_CLIENT_ID: required')));
    assert.ok(noOpenid.some((l) => l.startsWith('TESSERA_OIDC_SCOPES: must include openid')));
    for (const bad of [
      'https://docs.example',
      'docs.example/path',
      'user@docs.example',
      'docs.example:99999',
    ])
      assert.deepEqual(problems({ TESSERA_CIMD_TRUSTED_HOSTS: `localhost:8443, ${bad}` }), [
        `TESSERA_CIMD_TRUSTED_HOSTS: "${bad}" is not a host or host:port`,
      ]);
    assert.deepEqual(
      readSettings({ TESSERA_CIMD_TRUSTED_HOSTS: ' Docs.Example:8443 ,localhost ' }).cimdTrustedHosts,
      ['docs.example:8443', 'localhost'],
    );
  });
});

describe('readSettings: defaults', () => {
  test('an empty environment gives the documented defaults', () => {
    assert.deepEqual(readSettings({}, CWD), {
      dataDir: '/srv/tessera/.tessera',
      databaseUrl: undefined,
      embeddedPgPort: 54329,
      host: '127.0.0.1',
      port: 8080,
      meshHost: '127.0.0.1',
      meshPort: 15010,
      publicUrl: 'http://127.0.0.1:8080',
      adminEmail: 'admin@example.com',
      adminToken: undefined,
      meshToken: undefined,
      localProxies: true,
      demoServer: true,
      demoPort: 15001,
      tokenTtlSeconds: 3600,
      refreshTokenTtlSeconds: 1_209_600,
      cimdTrustedHosts: [],
      registrationsPerAddressPerHour: 30,
      registrationsPerHour: 600,
      localAccounts: true,
      adminPassword: undefined,
      oidc: undefined,
      github: undefined,
      meshMaxStreamAgeS: 1800,
      meshNewStreamsPerSecond: 200,
      meshNewStreamBurst: 500,
      meshPushConcurrency: Math.min(15 + 5 * availableParallelism(), 100),
      meshHeartbeatS: 20,
      meshStatusIntervalMs: 1000,
      meshAuth: 'local',
      meshK8sNamespaces: [],
      auditBatchMaxEvents: 256,
      auditFlushIntervalMs: 1000,
      logLevel: 'info',
      keyProvider: 'local',
      encryptionKeys: undefined,
      kmsKeyId: undefined,
      kmsEndpoint: undefined,
      kmsRegion: undefined,
      outboundAllow: [],
      kubernetes: undefined,
    });
  });

  test('empty strings mean "use the default"', () => {
    const env: Env = {};
    for (const [name] of settingsDoc) env[name] = '';
    assert.deepEqual(readSettings(env, CWD), readSettings({}, CWD));
  });

  test('the documented defaults match the values read', () => {
    const s = readSettings({}, CWD);
    const doc = Object.fromEntries(settingsDoc.map(([name, def]) => [name, def]));
    assert.equal(doc.TESSERA_PORT, String(s.port));
    assert.equal(doc.TESSERA_MESH_PORT, String(s.meshPort));
    assert.equal(doc.TESSERA_EMBEDDED_PG_PORT, String(s.embeddedPgPort));
    assert.equal(doc.TESSERA_DEMO_PORT, String(s.demoPort));
    assert.equal(doc.TESSERA_TOKEN_TTL_SECONDS, String(s.tokenTtlSeconds));
    assert.equal(doc.TESSERA_AUDIT_BATCH_MAX_EVENTS, String(s.auditBatchMaxEvents));
    assert.equal(doc.TESSERA_AUDIT_FLUSH_INTERVAL_MS, String(s.auditFlushIntervalMs));
    assert.equal(doc.TESSERA_ADMIN_EMAIL, s.adminEmail);
    assert.equal(doc.TESSERA_LOG_LEVEL, s.logLevel);
  });
});

describe('readSettings: explicit values', () => {
  test('every setting given', () => {
    const s = readSettings(
      {
        TESSERA_DATA_DIR: '/var/lib/tessera',
        DATABASE_URL: 'postgresql://u:p@db:5432/tessera',
        TESSERA_EMBEDDED_PG_PORT: '5433',
        TESSERA_HOST: '0.0.0.0',
        TESSERA_PORT: '0',
        TESSERA_MESH_HOST: '0.0.0.0',
        TESSERA_MESH_PORT: '65535',
        TESSERA_PUBLIC_URL: 'https://tessera.example.com',
        TESSERA_ADMIN_EMAIL: 'root@example.org',
        TESSERA_ADMIN_TOKEN: TOKEN,
        TESSERA_MESH_TOKEN: `${TOKEN}y`,
        TESSERA_LOCAL_PROXIES: 'false',
        TESSERA_DEMO_SERVER: '0',
        TESSERA_DEMO_PORT: '1',
        TESSERA_TOKEN_TTL_SECONDS: '60',
        TESSERA_AUDIT_BATCH_MAX_EVENTS: '10000',
        TESSERA_AUDIT_FLUSH_INTERVAL_MS: '10',
        TESSERA_LOG_LEVEL: 'warn',
      },
      CWD,
    );
    assert.equal(s.dataDir, '/var/lib/tessera');
    assert.equal(s.databaseUrl, 'postgresql://u:p@db:5432/tessera');
    assert.equal(s.embeddedPgPort, 5433);
    assert.equal(s.host, '0.0.0.0');
    assert.equal(s.port, 0);
    assert.equal(s.meshHost, '0.0.0.0');
    assert.equal(s.meshPort, 65535);
    assert.equal(s.publicUrl, 'https://tessera.example.com');
    assert.equal(s.adminEmail, 'root@example.org');
    assert.equal(s.adminToken, TOKEN);
    assert.equal(s.meshToken, `${TOKEN}y`);
    assert.equal(s.localProxies, false);
    assert.equal(s.demoServer, false);
    assert.equal(s.demoPort, 1);
    assert.equal(s.tokenTtlSeconds, 60);
    assert.equal(s.auditBatchMaxEvents, 10_000);
    assert.equal(s.auditFlushIntervalMs, 10);
    assert.equal(s.logLevel, 'warn');
  });

  test('a relative data directory resolves against the given cwd', () => {
    assert.equal(
      readSettings({ TESSERA_DATA_DIR: 'state/tessera' }, CWD).dataDir,
      '/srv/tessera/state/tessera',
    );
    assert.equal(readSettings({ TESSERA_DATA_DIR: '../up' }, CWD).dataDir, '/srv/up');
  });

  test('booleans accept true/false and 1/0', () => {
    assert.equal(readSettings({ TESSERA_LOCAL_PROXIES: 'true' }, CWD).localProxies, true);
    assert.equal(readSettings({ TESSERA_LOCAL_PROXIES: '1' }, CWD).localProxies, true);
    assert.equal(readSettings({ TESSERA_LOCAL_PROXIES: 'false' }, CWD).localProxies, false);
    assert.equal(readSettings({ TESSERA_LOCAL_PROXIES: '0' }, CWD).localProxies, false);
  });

  test('postgres:// is accepted as well as postgresql://', () => {
    assert.equal(readSettings({ DATABASE_URL: 'postgres://db/t' }, CWD).databaseUrl, 'postgres://db/t');
  });
});

describe('readSettings: the public URL', () => {
  test('is derived from host and port', () => {
    assert.equal(
      readSettings({ TESSERA_HOST: 'tessera.local', TESSERA_PORT: '9000' }, CWD).publicUrl,
      'http://tessera.local:9000',
    );
  });

  test('brackets an IPv6 host', () => {
    assert.equal(
      readSettings({ TESSERA_HOST: '::1', TESSERA_PORT: '8443' }, CWD).publicUrl,
      'http://[::1]:8443',
    );
    assert.equal(readSettings({ TESSERA_HOST: '::' }, CWD).publicUrl, 'http://[::]:8080');
  });

  test('an explicit URL wins, with its trailing slash trimmed', () => {
    assert.equal(
      readSettings({ TESSERA_PUBLIC_URL: 'https://tessera.example.com/' }, CWD).publicUrl,
      'https://tessera.example.com',
    );
    assert.equal(
      readSettings({ TESSERA_PUBLIC_URL: 'https://h.example/base/' }, CWD).publicUrl,
      'https://h.example/base',
    );
    assert.equal(
      readSettings({ TESSERA_PUBLIC_URL: 'https://h.example', TESSERA_HOST: 'x', TESSERA_PORT: '1' }, CWD)
        .publicUrl,
      'https://h.example',
    );
  });

  test('an invalid port falls back to 8080 for the derivation, and is reported', () => {
    assert.deepEqual(problems({ TESSERA_PORT: '70000' }), [
      'TESSERA_PORT: "70000" must be a whole number in 0..65535',
    ]);
  });

  test('a URL that is not a URL is refused', () => {
    assert.deepEqual(problems({ TESSERA_PUBLIC_URL: 'not a url' }), [
      'TESSERA_PUBLIC_URL: "not a url" is not a URL',
    ]);
  });

  test('a URL that is not http(s) is refused', () => {
    assert.deepEqual(problems({ TESSERA_PUBLIC_URL: 'ftp://h.example' }), [
      'TESSERA_PUBLIC_URL: must be http(s)',
    ]);
  });

  test('a host that makes the derived URL invalid is refused', () => {
    const lines = problems({ TESSERA_HOST: 'bad host' });
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /^TESSERA_PUBLIC_URL: "http:\/\/bad host:8080" is not a URL$/);
  });
});

describe('readSettings: mesh', () => {
  test('kubernetes authentication with a namespace list', () => {
    const s = readSettings(
      {
        TESSERA_MESH_AUTH: 'kubernetes',
        TESSERA_MESH_K8S_NAMESPACES: 'team-a, team-b',
        TESSERA_MESH_PUSH_CONCURRENCY: '7',
      },
      CWD,
    );
    assert.equal(s.meshAuth, 'kubernetes');
    assert.deepEqual(s.meshK8sNamespaces, ['team-a', 'team-b']);
    assert.equal(s.meshPushConcurrency, 7);
  });

  test('bad mesh values are refused together', () => {
    assert.deepEqual(
      problems({
        TESSERA_MESH_AUTH: 'oidc',
        TESSERA_MESH_K8S_NAMESPACES: 'ok,Not_OK',
        TESSERA_MESH_PUSH_CONCURRENCY: '0',
        TESSERA_MESH_STATUS_INTERVAL_MS: '10',
      }),
      [
        'TESSERA_MESH_AUTH: "oidc" must be local or kubernetes',
        'TESSERA_MESH_K8S_NAMESPACES: "Not_OK" is not a namespace name',
        'TESSERA_MESH_PUSH_CONCURRENCY: "0" must be a whole number in 1..10000',
        'TESSERA_MESH_STATUS_INTERVAL_MS: "10" must be a whole number in 50..60000',
      ],
    );
  });
});

describe('readSettings: client registration limits', () => {
  test('are read, and values out of range are refused together', () => {
    const s = readSettings(
      { TESSERA_REGISTRATIONS_PER_IP_PER_HOUR: '5', TESSERA_REGISTRATIONS_PER_HOUR: '50' },
      CWD,
    );
    assert.equal(s.registrationsPerAddressPerHour, 5);
    assert.equal(s.registrationsPerHour, 50);
    assert.deepEqual(
      problems({ TESSERA_REGISTRATIONS_PER_IP_PER_HOUR: '0', TESSERA_REGISTRATIONS_PER_HOUR: '1.5' }),
      [
        'TESSERA_REGISTRATIONS_PER_IP_PER_HOUR: "0" must be a whole number in 1..1000000',
        'TESSERA_REGISTRATIONS_PER_HOUR: "1.5" must be a whole number in 1..1000000',
      ],
    );
  });
});

describe('readSettings: invalid values', () => {
  test('every problem is reported together', () => {
    assert.deepEqual(
      problems({
        TESSERA_PORT: 'eighty',
        DATABASE_URL: 'mysql://db/t',
        TESSERA_ADMIN_EMAIL: 'not-an-email',
        TESSERA_ADMIN_TOKEN: 'short',
        TESSERA_MESH_TOKEN: 'also-short',
        TESSERA_LOG_LEVEL: 'trace',
        TESSERA_EMBEDDED_PG_PORT: '0',
        TESSERA_MESH_PORT: '-1',
        TESSERA_LOCAL_PROXIES: 'yes',
        TESSERA_DEMO_SERVER: 'no',
        TESSERA_DEMO_PORT: '65536',
        TESSERA_TOKEN_TTL_SECONDS: '59',
        TESSERA_AUDIT_BATCH_MAX_EVENTS: '10001',
        TESSERA_AUDIT_FLUSH_INTERVAL_MS: '1.5',
      }),
      [
        'TESSERA_PORT: "eighty" must be a whole number in 0..65535',
        'DATABASE_URL: must start with postgres:// or postgresql://',
        'TESSERA_ADMIN_EMAIL: "not-an-email" is not an email address',
        'TESSERA_ADMIN_TOKEN: must be at least 32 characters',
        'TESSERA_MESH_TOKEN: must be at least 32 characters',
        'TESSERA_LOG_LEVEL: "trace" must be debug, info, warn or error',
        'TESSERA_EMBEDDED_PG_PORT: "0" must be a whole number in 1..65535',
        'TESSERA_MESH_PORT: "-1" must be a whole number in 0..65535',
        'TESSERA_LOCAL_PROXIES: "yes" must be true or false',
        'TESSERA_DEMO_SERVER: "no" must be true or false',
        'TESSERA_DEMO_PORT: "65536" must be a whole number in 1..65535',
        'TESSERA_TOKEN_TTL_SECONDS: "59" must be a whole number in 60..86400',
        'TESSERA_AUDIT_BATCH_MAX_EVENTS: "10001" must be a whole number in 1..10000',
        'TESSERA_AUDIT_FLUSH_INTERVAL_MS: "1.5" must be a whole number in 10..60000',
      ],
    );
  });

  test('tokens are never echoed in the problem', () => {
    const lines = problems({ TESSERA_ADMIN_TOKEN: 'hunter2' });
    assert.ok(lines.every((l) => !l.includes('hunter2')));
  });

  for (const email of ['a@b@c', 'no at', '@example.com', 'user@', 'a b@c.d']) {
    test(`admin email ${JSON.stringify(email)} is refused`, () => {
      assert.deepEqual(problems({ TESSERA_ADMIN_EMAIL: email }), [
        `TESSERA_ADMIN_EMAIL: "${email}" is not an email address`,
      ]);
    });
  }

  for (const raw of ['1e3', '0x10', ' 80', '80 ', '+80', '8080.0']) {
    test(`the number ${JSON.stringify(raw)} is refused`, () => {
      assert.deepEqual(problems({ TESSERA_MESH_PORT: raw }), [
        `TESSERA_MESH_PORT: "${raw}" must be a whole number in 0..65535`,
      ]);
    });
  }

  test('booleans are case-sensitive', () => {
    assert.deepEqual(problems({ TESSERA_LOCAL_PROXIES: 'TRUE' }), [
      'TESSERA_LOCAL_PROXIES: "TRUE" must be true or false',
    ]);
  });

  test('a 32-character token is long enough', () => {
    assert.equal(readSettings({ TESSERA_MESH_TOKEN: TOKEN }, CWD).meshToken, TOKEN);
    assert.deepEqual(problems({ TESSERA_MESH_TOKEN: TOKEN.slice(1) }), [
      'TESSERA_MESH_TOKEN: must be at least 32 characters',
    ]);
  });

  test('the environment is not modified', () => {
    const env: Env = { TESSERA_PORT: 'x', TESSERA_LOG_LEVEL: 'y' };
    const before = { ...env };
    problems(env);
    assert.deepEqual(env, before);
  });

  test('the Kubernetes controller settings are read only when TESSERA_KUBERNETES is on', () => {
    const k = readSettings(
      { TESSERA_KUBERNETES: '1', TESSERA_KUBE_NAMESPACE: 'tessera', TESSERA_POD_NAME: 'cp-0' },
      CWD,
    ).kubernetes;
    assert.deepEqual(k, {
      namespace: 'tessera',
      podName: 'cp-0',
      resyncSeconds: 300,
      clusterDomain: 'cluster.local',
      proxyImage: 'tessera/proxy:0.1.0',
      runnerNodeImage: 'tessera/runner-node:0.1.0',
      runnerPythonImage: 'tessera/runner-python:0.1.0',
      meshAddress: 'http://tessera-mesh.tessera.svc:15010',
    });
    assert.equal(readSettings({ TESSERA_KUBE_NAMESPACE: 'x' }, CWD).kubernetes, undefined);
  });

  test('bad Kubernetes settings are listed together', () => {
    assert.deepEqual(
      problems({
        TESSERA_KUBERNETES: '1',
        TESSERA_KUBE_RESYNC_S: '1',
        TESSERA_MESH_ADDRESS: 'tessera-mesh:15010',
        TESSERA_PROXY_IMAGE: 'a b',
      }),
      [
        'TESSERA_MESH_ADDRESS: "tessera-mesh:15010" must be http(s)://host:port',
        'TESSERA_KUBE_RESYNC_S: "1" must be a whole number in 10..86400',
        'TESSERA_PROXY_IMAGE: "a b" is not an image reference',
      ],
    );
  });
});

describe('readSettings: encryption at rest', () => {
  test('aws-kms needs a key id; endpoint and region are taken as given', () => {
    const s = readSettings(
      {
        TESSERA_KEY_PROVIDER: 'aws-kms',
        TESSERA_KMS_KEY_ID: 'alias/tessera',
        TESSERA_KMS_ENDPOINT: 'http://127.0.0.1:5000',
        AWS_REGION: 'eu-west-1',
      },
      CWD,
    );
    assert.equal(s.keyProvider, 'aws-kms');
    assert.equal(s.kmsKeyId, 'alias/tessera');
    assert.equal(s.kmsEndpoint, 'http://127.0.0.1:5000');
    assert.equal(s.kmsRegion, 'eu-west-1');
    assert.equal(
      readSettings({ TESSERA_KMS_REGION: 'us-east-2', AWS_REGION: 'x' }, CWD).kmsRegion,
      'us-east-2',
    );
  });

  test('an unknown provider, a missing key id and a bad endpoint are reported', () => {
    assert.deepEqual(problems({ TESSERA_KEY_PROVIDER: 'vault' }), [
      'TESSERA_KEY_PROVIDER: "vault" must be local or aws-kms',
    ]);
    assert.deepEqual(problems({ TESSERA_KEY_PROVIDER: 'aws-kms', TESSERA_KMS_ENDPOINT: 'nope' }), [
      'TESSERA_KMS_KEY_ID: required when TESSERA_KEY_PROVIDER is aws-kms',
      'TESSERA_KMS_ENDPOINT: "nope" is not a URL',
    ]);
  });
});

describe('readSettings: outbound allow-list', () => {
  test('CIDR ranges are parsed; junk is refused by name', () => {
    assert.deepEqual(
      readSettings({ TESSERA_OUTBOUND_ALLOW: '127.0.0.1, 10.0.0.0/8' }, '/tmp').outboundAllow,
      [
        { address: '127.0.0.1', prefix: 32 },
        { address: '10.0.0.0', prefix: 8 },
      ],
    );
    assert.throws(
      () => readSettings({ TESSERA_OUTBOUND_ALLOW: '10.0.0.0/99' }, '/tmp'),
      /TESSERA_OUTBOUND_ALLOW: "10.0.0.0\/99" is not an IP address or CIDR range/,
    );
  });
});
