import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { AuditIR, PolicyIR, ProxyConfig, TrustIR, UpstreamIR } from '../ir/proxy-config.ts';
import type { TranslatedPart } from '../ir/translate.ts';
import { importEs256Jwks } from '../policies/es256-jwt.ts';
import { compilePolicy } from '../policies/policy-engine.ts';
import { createConfigStore } from './config-store.ts';

const trust: TrustIR = {
  issuer: 'http://127.0.0.1:8080',
  keys: importEs256Jwks({ keys: [] }),
  apiKeys: new Map(),
};
const upstream: UpstreamIR = {
  server: 'github',
  resourceUri: 'http://127.0.0.1:15001/mcp',
  endpointPath: '/mcp',
  metadataPath: '/.well-known/oauth-protected-resource/mcp',
  metadataUrl: 'http://127.0.0.1:15001/.well-known/oauth-protected-resource/mcp',
  authorizationServers: ['http://127.0.0.1:8080'],
  scopesSupported: ['mcp'],
  requiredScopes: ['mcp'],
  requestTimeoutMs: 60_000,
};
function grantsOnly(users: string[], groups: string[]): PolicyIR {
  return {
    engine: compilePolicy({ grants: [{ users, groups }], rules: [] }),
    rateLimits: { perUser: undefined, perTool: undefined },
    filters: [],
    auditBodies: undefined,
  };
}
const policy = grantsOnly(['ada@example.com'], []);
const audit: AuditIR = { batchMaxEvents: 256, flushIntervalMs: 1000 };

const parts: TranslatedPart[] = [
  { kind: 'trust', value: trust },
  { kind: 'upstream', value: upstream },
  { kind: 'policy', value: policy },
  { kind: 'audit', value: audit },
];

describe('createConfigStore', () => {
  test('a new store is empty and not ready', () => {
    const store = createConfigStore();
    assert.equal(store.current(), undefined);
    assert.equal(store.ready(), false);
    assert.deepEqual(store.versions(), {});
  });

  test('the configuration is incomplete until all four parts have arrived', () => {
    const store = createConfigStore();
    for (const [i, part] of parts.entries()) {
      assert.equal(store.current(), undefined, `complete before ${part.kind}`);
      assert.equal(store.ready(), false);
      store.apply(part, `v${i}`, `n${i}`);
    }
    assert.deepEqual(store.current(), { trust, upstream, policy, audit });
    assert.equal(store.ready(), true);
  });

  test('the order of arrival does not matter', () => {
    const store = createConfigStore();
    for (const part of [...parts].reverse()) store.apply(part, 'v', 'n');
    assert.deepEqual(store.current(), { trust, upstream, policy, audit });
  });

  test('a part applied twice replaces the earlier one', () => {
    const store = createConfigStore();
    for (const part of parts) store.apply(part, 'v1', 'n1');
    const narrower = grantsOnly([], ['eng']);
    store.apply({ kind: 'policy', value: narrower }, 'v2', 'n2');
    assert.equal(store.current()?.policy, narrower);
    assert.equal(store.current()?.trust, trust);
  });

  test('readiness latches and stays while parts are replaced', () => {
    const store = createConfigStore();
    for (const part of parts) store.apply(part, 'v1', 'n1');
    assert.equal(store.ready(), true);
    store.apply({ kind: 'audit', value: { batchMaxEvents: 1, flushIntervalMs: 10 } }, 'v2', 'n2');
    store.apply({ kind: 'trust', value: trust }, 'v3', 'n3');
    assert.equal(store.ready(), true);
    assert.notEqual(store.current(), undefined);
  });

  test('each swap installs a new object; a reader holding the old one is not affected', () => {
    const store = createConfigStore();
    for (const part of parts) store.apply(part, 'v1', 'n1');
    const before = store.current() as ProxyConfig;
    store.apply({ kind: 'audit', value: { batchMaxEvents: 1, flushIntervalMs: 10 } }, 'v2', 'n2');
    const after = store.current() as ProxyConfig;
    assert.notEqual(after, before);
    assert.equal(before.audit, audit);
    assert.deepEqual(after.audit, { batchMaxEvents: 1, flushIntervalMs: 10 });
  });

  test('versions() reports version, nonce and time of each applied type', () => {
    const store = createConfigStore();
    store.apply(parts[0]!, 'abc', 'nonce-1');
    store.apply(parts[2]!, 'def', 'nonce-2');
    const v = store.versions();
    assert.deepEqual(Object.keys(v).sort(), ['policy', 'trust']);
    assert.equal(v.trust?.version, 'abc');
    assert.equal(v.trust?.nonce, 'nonce-1');
    assert.ok(v.trust?.appliedAt instanceof Date);
    assert.equal(v.policy?.version, 'def');
    assert.equal(v.upstream, undefined);
  });

  test('versions() follows re-application', () => {
    const store = createConfigStore();
    store.apply(parts[0]!, 'v1', 'n1');
    store.apply(parts[0]!, 'v2', 'n2');
    assert.equal(store.versions().trust?.version, 'v2');
    assert.equal(store.versions().trust?.nonce, 'n2');
  });

  test('versions() returns a copy the caller cannot use to change the store', () => {
    const store = createConfigStore();
    store.apply(parts[0]!, 'v1', 'n1');
    const v = store.versions();
    delete v.trust;
    v.audit = { version: 'forged', nonce: 'x', appliedAt: new Date() };
    assert.equal(store.versions().trust?.version, 'v1');
    assert.equal(store.versions().audit, undefined);
  });

  test('onChange listeners are called after every apply, with the current configuration', () => {
    const store = createConfigStore();
    const seen: Array<ProxyConfig | undefined> = [];
    const seenToo: number[] = [];
    store.onChange((c) => seen.push(c));
    store.onChange(() => seenToo.push(seenToo.length));
    for (const part of parts) store.apply(part, 'v', 'n');
    assert.equal(seen.length, 4);
    assert.deepEqual(seen.slice(0, 3), [undefined, undefined, undefined]);
    assert.equal(seen[3], store.current());
    assert.deepEqual(seenToo, [0, 1, 2, 3]);
  });

  test('a listener sees the store already updated', () => {
    const store = createConfigStore();
    let versionSeen: string | undefined;
    store.onChange(() => {
      versionSeen = store.versions().trust?.version;
    });
    store.apply(parts[0]!, 'v7', 'n7');
    assert.equal(versionSeen, 'v7');
  });

  test('a listener added later is called only for later swaps', () => {
    const store = createConfigStore();
    store.apply(parts[0]!, 'v', 'n');
    let calls = 0;
    store.onChange(() => calls++);
    assert.equal(calls, 0);
    store.apply(parts[1]!, 'v', 'n');
    assert.equal(calls, 1);
  });
});
