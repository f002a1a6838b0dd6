/**
 * The proxy's `/metrics` output read by an independent parser: `prometheus_client`'s
 * `text_string_to_metric_families` (Python), run with the interpreter of the virtualenv that `.ci/run`
 * installs. Two inputs: a real scrape of a proxy that served requests, and a registry holding the
 * awkward cases (escaped label values and help, `+Inf`, `-Inf`, `NaN`, a 22-digit integer).
 *
 * Without that virtualenv the file is skipped, except under CI (`CI=true`), where a missing
 * interpreter fails the run.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { auditMetrics } from '../src/telemetry/audit-metrics.ts';
import { createProxyMetrics } from '../src/telemetry/metrics.ts';
import { Counter } from '../src/telemetry/prometheus/counter.ts';
import { Gauge } from '../src/telemetry/prometheus/gauge.ts';
import { Histogram } from '../src/telemetry/prometheus/histogram.ts';
import { MetricsRegistry } from '../src/telemetry/prometheus/registry.ts';
import { createStdioUpstream } from '../src/upstream/stdio-upstream.ts';
import { FIXTURE } from './fixtures/stdio-harness.ts';
import { startHarness } from './helpers/harness.ts';
import { post, rpc } from './helpers/harness-post.ts';
import { parseExposition } from './helpers/prometheus.ts';

/** Keep in step with the prometheus-client venv in .ci/run. */
const PROMETHEUS_CLIENT_VERSION = '0.26.0';
const python =
  process.env.TESSERA_PROMETHEUS_PYTHON ??
  join(homedir(), '.cache', 'tessera', `prometheus-client-${PROMETHEUS_CLIENT_VERSION}`, 'bin', 'python');
const skip =
  existsSync(python) || process.env.CI === 'true'
    ? false
    : `no prometheus_client at ${python} (bash .ci/run installs it)`;

/** Reads the exposition on stdin; prints its families as JSON, values as Python's str(float). */
const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": f.name, "type": f.type, "help": f.documentation,
                "samples": [{"name": s.name, "labels": s.labels, "value": str(float(s.value))} for s in f.samples]})
print(json.dumps(out))
`;

interface Family {
  name: string;
  type: string;
  help: string;
  samples: Array<{ name: string; labels: Record<string, string>; value: string }>;
}

function parseWithPython(text: string): Promise<Family[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(python, ['-c', PARSE], { timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`prometheus_client refused the exposition: ${err.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as Family[]);
    });
    child.stdin!.end(text);
  });
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

describe('/metrics read by prometheus_client', { skip, timeout: 120_000 }, () => {
  test('a real scrape parses, with every family and sample our own reader sees', async () => {
    const metrics = createProxyMetrics();
    // The audit pipeline's families, as the proxy registers them beside its shipper.
    metrics.registry.register(
      auditMetrics(() => ({
        pending: 3,
        shipped: 12,
        failedCalls: 1,
        droppedSpoolFull: 0,
        droppedRejected: 2,
      })),
    );
    const h = await startHarness({
      upstream: createStdioUpstream({ command: process.execPath, args: [FIXTURE], log: () => {} }),
      metrics,
    });
    cleanups.push(() => h.close());
    const init = rpc('initialize', {
      protocolVersion: '2025-11-25',
      capabilities: {},
      clientInfo: { name: 'format', version: '1' },
    });
    assert.equal((await post(h, init)).status, 200);
    assert.equal((await post(h, init, { token: null })).status, 401);
    const res = await fetch(`${h.url}/metrics`);
    assert.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();

    const families = await parseWithPython(text);
    const ours = parseExposition(text);
    assert.equal(
      families.reduce((n, f) => n + f.samples.length, 0),
      ours.length,
      'the same number of samples',
    );
    const byName = new Map(families.map((f) => [f.name, f]));
    // prometheus_client names a counter family without its _total suffix.
    const requests = byName.get('tessera_proxy_requests');
    assert.equal(requests?.type, 'counter');
    assert.equal(
      requests?.help,
      'Requests on the MCP endpoint, by JSON-RPC method, audit outcome and HTTP status.',
    );
    assert.deepEqual(
      requests?.samples.map((s) => [s.labels, s.value]),
      [
        [{ method: 'initialize', outcome: 'ok', status: '200' }, '1.0'],
        [{ method: 'none', outcome: 'unauthenticated', status: '401' }, '1.0'],
      ],
    );
    const duration = byName.get('tessera_proxy_request_duration_seconds');
    assert.equal(duration?.type, 'histogram');
    const inf = duration?.samples.filter((s) => s.name.endsWith('_bucket') && s.labels.le === '+Inf');
    assert.equal(inf?.length, 2);
    for (const [name, type] of [
      ['tessera_proxy_decisions', 'counter'],
      ['tessera_proxy_upstream_errors', 'counter'],
      ['tessera_proxy_config_info', 'gauge'],
      ['tessera_proxy_config_ready', 'gauge'],
      ['tessera_proxy_audit_flush_duration_seconds', 'histogram'],
      ['tessera_proxy_audit_pending_events', 'gauge'],
      ['tessera_proxy_audit_shipped_events', 'counter'],
      ['tessera_proxy_audit_ship_failures', 'counter'],
      ['tessera_proxy_audit_dropped_events', 'counter'],
      ['process_cpu_seconds', 'counter'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
      ['nodejs_version_info', 'gauge'],
    ])
      assert.equal(byName.get(name!)?.type, type, name);
    assert.deepEqual(
      byName.get('tessera_proxy_audit_dropped_events')?.samples.map((s) => [s.labels, s.value]),
      [
        [{ reason: 'spool_full' }, '0.0'],
        [{ reason: 'rejected' }, '2.0'],
      ],
    );
  });

  test('escaped label values and help, special values and large integers read back exactly', async () => {
    const registry = new MetricsRegistry();
    const weird = 'back\\slash "quoted"\nnew line, {braces} = é';
    registry
      .register(
        new Counter({ name: 'fmt_events_total', help: 'Help with \\ and\nline "q".', labelNames: ['v'] }),
      )
      .labels(weird)
      .inc(1e22);
    const g = registry.register(new Gauge({ name: 'fmt_value', help: 'Values.', labelNames: ['k'] }));
    g.labels('inf').set(Number.POSITIVE_INFINITY);
    g.labels('ninf').set(Number.NEGATIVE_INFINITY);
    g.labels('nan').set(Number.NaN);
    g.labels('small').set(1.5e-7);
    const hist = registry.register(
      new Histogram({ name: 'fmt_seconds', help: 'H.', labelNames: ['m'], buckets: [0.0001, 1] }),
    );
    hist.labels('x').observe(0.00005);
    hist.labels('x').observe(3);

    const families = await parseWithPython(registry.metrics());
    assert.deepEqual(
      families.map((f) => [f.name, f.type, f.help]),
      [
        ['fmt_events', 'counter', 'Help with \\ and\nline "q".'],
        ['fmt_value', 'gauge', 'Values.'],
        ['fmt_seconds', 'histogram', 'H.'],
      ],
    );
    assert.deepEqual(families[0]!.samples, [
      { name: 'fmt_events_total', labels: { v: weird }, value: '1e+22' },
    ]);
    assert.deepEqual(
      families[1]!.samples.map((s) => [s.labels.k, s.value]),
      [
        ['inf', 'inf'],
        ['ninf', '-inf'],
        ['nan', 'nan'],
        ['small', '1.5e-07'],
      ],
    );
    assert.deepEqual(
      families[2]!.samples.map((s) => [s.name, s.labels, s.value]),
      [
        ['fmt_seconds_bucket', { m: 'x', le: '0.0001' }, '1.0'],
        ['fmt_seconds_bucket', { m: 'x', le: '1' }, '1.0'],
        ['fmt_seconds_bucket', { m: 'x', le: '+Inf' }, '2.0'],
        ['fmt_seconds_sum', { m: 'x' }, '3.00005'],
        ['fmt_seconds_count', { m: 'x' }, '2.0'],
      ],
    );
  });
});
