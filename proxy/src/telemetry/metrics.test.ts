import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  configRecorder,
  createProxyMetrics,
  KNOWN_METHODS,
  methodLabel,
  observeRequest,
  statusLabel,
  upstreamErrorKind,
} from './metrics.ts';

describe('label values', () => {
  test('known MCP methods keep their name; anything else is "other"; nothing parsed is "none"', () => {
    for (const m of KNOWN_METHODS) assert.equal(methodLabel(m), m);
    assert.equal(methodLabel('tools/call'), 'tools/call');
    assert.equal(methodLabel('notifications/initialized'), 'notifications/initialized');
    assert.equal(methodLabel('notifications/made-up'), 'other');
    assert.equal(methodLabel('Tools/Call'), 'other');
    assert.equal(methodLabel('x'.repeat(10_000)), 'other');
    assert.equal(methodLabel('alice@example.com'), 'other');
    assert.equal(methodLabel(''), 'none');
  });

  test('status codes outside 100–599 are "other"', () => {
    assert.equal(statusLabel(200), '200');
    assert.equal(statusLabel(499), '499');
    assert.equal(statusLabel(99), 'other');
    assert.equal(statusLabel(600), 'other');
    assert.equal(statusLabel(Number.NaN), 'other');
  });

  test('upstream failures are classified by the catalogue code the upstream reported', () => {
    assert.equal(upstreamErrorKind(undefined), undefined);
    assert.equal(upstreamErrorKind('TESSERA_UPSTREAM_UNAVAILABLE'), 'unavailable');
    assert.equal(upstreamErrorKind('TESSERA_UPSTREAM_TIMEOUT'), 'timeout');
    assert.equal(upstreamErrorKind('TESSERA_UPSTREAM_EXITED'), 'exited');
    // The proxy's own refusals are not failures of the server.
    assert.equal(upstreamErrorKind('TESSERA_TOO_MANY_SESSIONS'), undefined);
    assert.equal(upstreamErrorKind('TESSERA_SESSION_NOT_FOUND'), undefined);
  });
});

describe('createProxyMetrics', () => {
  test('each instance has its own registry', () => {
    const a = createProxyMetrics({ processMetrics: false });
    const b = createProxyMetrics({ processMetrics: false });
    observeRequest(a, {
      method: 'ping',
      outcome: 'ok',
      httpStatus: 200,
      latencyUs: 150,
      decision: 'grant',
      upstreamError: undefined,
    });
    assert.match(
      a.registry.metrics(),
      /tessera_proxy_requests_total\{method="ping",outcome="ok",status="200"\} 1/,
    );
    assert.doesNotMatch(b.registry.metrics(), /method="ping"/);
    assert.doesNotMatch(b.registry.metrics(), /process_cpu/);
    assert.match(createProxyMetrics().registry.metrics(), /process_cpu_user_seconds_total/);
  });

  test('a sub-millisecond request lands in a sub-millisecond bucket', () => {
    const m = createProxyMetrics({ processMetrics: false });
    observeRequest(m, {
      method: 'tools/call',
      outcome: 'denied',
      httpStatus: 403,
      latencyUs: 180,
      decision: 'no_grant',
      upstreamError: undefined,
    });
    const text = m.registry.metrics();
    const bucket = (le: string) =>
      new RegExp(
        `tessera_proxy_request_duration_seconds_bucket\\{le="${le.replace(/[.+]/g, '\\$&')}",method="tools/call",outcome="denied"\\} (\\d+)`,
      ).exec(text)?.[1];
    assert.equal(bucket('0.0001'), '0');
    assert.equal(bucket('0.00025'), '1');
    assert.equal(bucket('+Inf'), '1');
    assert.match(text, /tessera_proxy_decisions_total\{decision="deny",reason="no_grant"\} 1/);
  });

  test('the config recorder keeps one series per type and replaces it on a new version', () => {
    const m = createProxyMetrics({ processMetrics: false });
    const record = configRecorder(m);
    record({ trust: { version: 'a1' } }, false);
    record({ trust: { version: 'a1' }, policy: { version: 'p1' } }, true);
    record({ trust: { version: 'a2' }, policy: { version: 'p1' } }, true);
    const text = m.registry.metrics();
    assert.match(text, /tessera_proxy_config_info\{type="trust",version="a2"\} 1/);
    assert.match(text, /tessera_proxy_config_info\{type="policy",version="p1"\} 1/);
    assert.doesNotMatch(text, /version="a1"/);
    assert.match(text, /tessera_proxy_config_ready 1/);
  });
});
