import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { LatencySummary } from './protocol.ts';
import { added, markdown, median, type Pair, type RunRecord, summarise, targets } from './report.ts';

const latency = (p50: number, p90: number, p99: number): LatencySummary => ({
  count: 1000,
  min_ms: p50 / 2,
  mean_ms: p50,
  p50_ms: p50,
  p90_ms: p90,
  p99_ms: p99,
  p999_ms: p99 * 2,
  max_ms: p99 * 3,
});

/** A run that answered `rps` req/s with these percentiles, its middle process spending `cpu` s / 1000. */
function run(
  target: RunRecord['target'],
  rps: number,
  l: LatencySummary,
  cpu: { proxy: number; fixture: number },
  rssAnon = 40,
): RunRecord {
  const perK = { ...cpu, load_generator: 0.2, control_plane: 0.01, postgres: 0.02 };
  return {
    target,
    result: {
      kind: 'open',
      total: { sent: rps * 3, ok: rps * 3 },
      measured: { sent: rps, ok: rps, errors: 0, errorKinds: {}, durationS: 1, achievedRps: rps },
      latency: l,
      service: l,
      sendLag: undefined,
    },
    cpu_s: perK,
    cpu_s_per_1000_requests: perK,
    proxy_memory: {
      rss_anon_mb: rssAnon,
      rss_file_mb: 50,
      rss_total_mb: rssAnon + 50,
      rss_peak_mb: rssAnon + 55,
    },
    proxy_sched_per_1000_requests: {
      user_s: cpu.proxy * 0.75,
      system_s: cpu.proxy * 0.25,
      voluntary_switches: 1000,
      involuntary_switches: 1200,
    },
  };
}

function pair(rate: Pair['rate'], direct: RunRecord, proxied: RunRecord, reference?: RunRecord): Pair {
  return {
    rate,
    direct,
    proxied,
    added: added(direct.result.latency, proxied.result.latency),
    added_service: added(direct.result.service, proxied.result.service),
    ...(reference && {
      reference: {
        run: reference,
        added: added(direct.result.latency, reference.result.latency),
        added_service: added(direct.result.service, reference.result.service),
      },
    }),
  };
}

const fixtureCpu = (middle: number) => ({ proxy: middle, fixture: 0.08 });

const pairs: Pair[] = [
  pair(
    500,
    run('direct', 500, latency(0.8, 1.2, 2), fixtureCpu(0)),
    run('proxied', 500, latency(1.3, 2, 6), fixtureCpu(0.5)),
  ),
  pair(
    1000,
    run('direct', 1000, latency(0.8, 1.3, 5), fixtureCpu(0)),
    run('proxied', 1000, latency(1.2, 2.5, 11), fixtureCpu(0.4), 95),
    run('reference', 1000, latency(1.0, 1.6, 6), fixtureCpu(0.23), 28),
  ),
  pair(
    'saturation',
    run('direct', 40_000, latency(1.3, 2.1, 4.8), fixtureCpu(0)),
    run('proxied', 3_000, latency(19, 25, 36), fixtureCpu(0.3), 120),
    run('reference', 12_000, latency(5, 7, 9), fixtureCpu(0.2), 30),
  ),
];
const sdkCpu = (middle: number) => ({ proxy: middle, fixture: 0.7 });
const sdkPairs: Pair[] = [
  pair(
    500,
    run('direct', 500, latency(1.5, 2, 4), sdkCpu(0)),
    run('proxied', 500, latency(2, 3, 8), sdkCpu(0.45), 90),
  ),
  pair(
    'saturation',
    run('direct', 1_400, latency(40, 50, 60), sdkCpu(0)),
    run('proxied', 1_000, latency(60, 70, 90), sdkCpu(0.4), 100),
  ),
];

describe('summarise', () => {
  it('keeps the proxy figures from the fixture runs at the summary rate', () => {
    const s = summarise(pairs, 1000, sdkPairs, 500);
    assert.equal(s.rate_rps, 1000);
    assert.equal(s.added_p50_ms, 0.4);
    assert.equal(s.added_p99_ms, 6);
    assert.equal(s.cpu_s_per_1000_requests, 0.4);
    assert.equal(s.fixture_cpu_s_per_1000_requests, 0.08);
    assert.equal(s.rss_anon_mb, 95);
    assert.equal(s.direct_saturated_rps, 40_000);
    assert.equal(s.proxied_saturated_rps, 3_000);
    assert.equal(s.throughput_ratio, 0.075);
  });

  it('adds the reference forwarder, compared with the same direct runs', () => {
    const s = summarise(pairs, 1000, sdkPairs, 500);
    assert.equal(s.reference_forwarder_added_p50_ms, 0.2);
    assert.equal(s.reference_forwarder_added_p99_ms, 1);
    assert.equal(s.reference_forwarder_cpu_s_per_1000_requests, 0.23);
    assert.equal(s.reference_forwarder_rss_anon_mb, 28);
    assert.equal(s.reference_forwarder_rss_total_mb, 78);
    assert.equal(s.reference_forwarder_saturated_rps, 12_000);
    assert.equal(s.reference_forwarder_throughput_ratio, 0.3);
  });

  it('adds the SDK server at its own rate, with its own CPU from the proxied run', () => {
    const s = summarise(pairs, 1000, sdkPairs, 500);
    assert.equal(s.sdk_server_rate_rps, 500);
    assert.equal(s.sdk_server_added_p50_ms, 0.5);
    assert.equal(s.sdk_server_added_p99_ms, 4);
    assert.equal(s.sdk_server_proxy_cpu_s_per_1000_requests, 0.45);
    assert.equal(s.sdk_server_cpu_s_per_1000_requests, 0.7);
    assert.equal(s.sdk_server_direct_saturated_rps, 1_400);
    assert.equal(s.sdk_server_proxied_saturated_rps, 1_000);
    assert.equal(s.sdk_server_throughput_ratio, 0.714);
  });

  it('accounts the audit pipeline and, at saturation, every process', () => {
    const s = summarise(pairs, 1000, sdkPairs, 500);
    assert.equal(s.control_plane_cpu_s_per_1000_requests, 0.01);
    assert.equal(s.postgres_cpu_s_per_1000_requests, 0.02);
    // Load generator 0.2 + fixture 0.08 + control plane 0.01 + PostgreSQL 0.02, plus the middle process.
    assert.deepEqual(s.saturation_total_cpu_s_per_1000_requests, {
      direct: 0.31,
      proxied: 0.61,
      reference: 0.51,
    });
    assert.deepEqual(s.saturation_cores_busy, { direct: 0.31, proxied: 0.61, reference: 0.51 });
    const md = markdown(pairs, sdkPairs, s, targets(s), { date: 'd', machine: 'm', method: 'M.' });
    assert.match(md, /control plane 0\.010 CPU-s and its PostgreSQL 0\.020 s/);
    assert.match(md, /the proxy could reach at most about 51 % of direct, and the forwarder 61 %/);
  });

  it("splits the proxy's CPU at the summary rate, and sets it beside its CPU at saturation", () => {
    const s = summarise(pairs, 1000, sdkPairs, 500);
    assert.deepEqual(s.proxy_sched_per_1000_requests, {
      user_s: 0.3,
      system_s: 0.1,
      voluntary_switches: 1000,
      involuntary_switches: 1200,
    });
    assert.deepEqual(s.saturation_proxy_cpu_s_per_1000_requests, { proxied: 0.3, reference: 0.2 });
    const md = markdown(pairs, sdkPairs, s, targets(s), { date: 'd', machine: 'm', method: 'M.' });
    assert.match(md, /were 0\.300 s user and 0\.100 s system time/);
    assert.match(md, /slept 1000 times and was preempted 1200 times/);
    assert.match(md, /it spent 0\.300 CPU-s per 1000 requests \(the forwarder 0\.200\)/);
  });

  it('judges the targets on the proxy figures only', () => {
    const fast = pairs.map((p) => ({ ...p, added: { p50_ms: 0.1, p90_ms: 0.2, p99_ms: 0.3 } }));
    const verdicts = targets(summarise(fast, 1000, sdkPairs, 500));
    assert.deepEqual(
      verdicts.map((t) => [t.measured, t.pass]),
      [
        [0.1, true],
        [0.3, true],
        [0.4, false],
        [95, false],
        [0.075, false],
      ],
    );
  });

  it('does not pass a negative added latency: the direct run was the noisier one', () => {
    const noisy = pairs.map((p) => ({ ...p, added: { p50_ms: 0.1, p90_ms: 0.2, p99_ms: -12 } }));
    const p99 = targets(summarise(noisy, 1000, sdkPairs, 500))[1]!;
    assert.equal(p99.measured, -12);
    assert.equal(p99.pass, false);
    assert.match(p99.inconclusive ?? '', /direct run was slower/);
  });

  it('refuses runs without the summary rate, saturation or the reference forwarder', () => {
    assert.throws(() => summarise(pairs, 2000, sdkPairs, 500), /2000 req\/s and saturation/);
    assert.throws(() => summarise(pairs, 1000, sdkPairs, 1000), /SDK server runs need 1000 req\/s/);
    assert.throws(() => summarise(pairs.slice(0, 2), 1000, sdkPairs, 500), /and saturation/);
    const withoutReference = pairs.map(({ reference: _, ...p }) => p);
    assert.throws(() => summarise(withoutReference, 1000, sdkPairs, 500), /reference forwarder needs/);
  });
});

describe('rounds at the summary rate', () => {
  /** Three rounds at 1000 req/s: a quiet one, a middling one, and one the host disturbed. */
  const at1000 = (roundNo: number, p99: number, cpu: number, anon: number, forwarderCpu: number) => ({
    ...pair(
      1000,
      run('direct', 1000, latency(0.8, 1.3, 2), fixtureCpu(0)),
      run('proxied', 1000, latency(1.1, 2, 2 + p99), fixtureCpu(cpu), anon),
      run('reference', 1000, latency(1.0, 1.6, 3), fixtureCpu(forwarderCpu), 25),
    ),
    round: roundNo,
  });
  const rounds: Pair[] = [
    pairs[0]!,
    at1000(1, 4, 0.3, 38, 0.25),
    at1000(2, 60, 0.45, 36, 0.4),
    at1000(3, 7, 0.32, 37, 0.26),
    pairs[2]!,
  ];
  const s = summarise(rounds, 1000, sdkPairs, 500);

  it('takes the median of each figure over the rounds, and keeps every round', () => {
    assert.equal(s.rounds, 3);
    assert.equal(s.added_p99_ms, 7);
    assert.equal(s.cpu_s_per_1000_requests, 0.32);
    assert.equal(s.rss_anon_mb, 37);
    assert.equal(s.reference_forwarder_cpu_s_per_1000_requests, 0.26);
    assert.deepEqual(s.added_p99_ms_by_round, [4, 60, 7]);
    assert.deepEqual(s.cpu_s_per_1000_requests_by_round, [0.3, 0.45, 0.32]);
    assert.deepEqual(s.rss_anon_mb_by_round, [38, 36, 37]);
  });

  it('shows each round in the tables and says the targets use the medians', () => {
    const md = markdown(rounds, sdkPairs, s, targets(s), { date: 'd', machine: 'm', method: 'M.' });
    for (const n of [1, 2, 3]) {
      assert.ok(md.includes(`| 1000, round ${n} | 1000 / 1000 |`));
      assert.ok(md.includes(`| reference forwarder → fixture, 1000, round ${n} |`));
    }
    assert.match(
      md,
      /judged on the median of the 3 rounds \(added p99 by round: 4\.000, 60\.000, 7\.000 ms\)/,
    );
    assert.match(md, /At 1000 req\/s \(medians of 3 rounds\) the reference forwarder/);
  });

  it('a median of an even count is the mean of the middle two, and of nothing an error', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([5]), 5);
    assert.throws(() => median([]), /median of nothing/);
  });
});

describe('markdown', () => {
  const s = summarise(pairs, 1000, sdkPairs, 500);
  const md = markdown(pairs, sdkPairs, s, targets(s), {
    date: '2026-01-01',
    machine: 'test box',
    method: 'Method.',
  });
  const lines = md.split('\n');

  it('keeps the headline table: one row per load of the proxy in front of the fixture', () => {
    assert.ok(
      lines.includes(
        '| 1000 | 1000 / 1000 | 0.800 / 1.300 / 5.000 | 1.200 / 2.500 / 11.000 | 0.400 / 1.200 / 6.000 | 0.400 | 95.0 | 145.0 |',
      ),
    );
    assert.ok(lines.some((l) => l.startsWith('| saturation (closed loop) | 40000 / 3000 |')));
    assert.ok(lines.includes('Saturation: 40000 req/s direct, 3000 req/s through the proxy (8 %).'));
  });

  it('labels the context rows and puts them after the targets', () => {
    const targetsAt = lines.findIndex((l) => l.startsWith('| Target |'));
    const forwarderRow = lines.findIndex((l) => l.startsWith('| reference forwarder → fixture, 1000 |'));
    assert.ok(targetsAt > 0 && forwarderRow > targetsAt);
    assert.equal(
      lines[forwarderRow],
      '| reference forwarder → fixture, 1000 | 1000 / 1000 | 0.800 / 1.300 / 5.000 | 1.000 / 1.600 / 6.000 | 0.200 / 0.300 / 1.000 | 0.230 | 28.0 | 78.0 |',
    );
    assert.ok(
      lines.some((l) =>
        l.startsWith('| reference forwarder → fixture, saturation (closed loop) | 40000 / 12000 |'),
      ),
    );
    assert.ok(lines.some((l) => l.startsWith('| proxy → SDK server, 500 | 500 / 500 |')));
    assert.ok(
      lines.some((l) => l.startsWith('| proxy → SDK server, saturation (closed loop) | 1400 / 1000 |')),
    );
    assert.equal(lines.filter((l) => l.includes('reference forwarder → fixture, 500')).length, 0);
  });

  it('states the context figures in words', () => {
    assert.match(md, /At 1000 req\/s the reference forwarder adds 0\.200 ms at p50 and spends 0\.230 CPU-s/);
    assert.match(md, /saturates at 12000 req\/s, 30 % of direct \(the proxy: 8 %\)/);
    assert.match(
      md,
      /the proxy adds 0\.500 ms at p50 and reaches 71 % of direct at saturation \(1000 of 1400 req\/s\)/,
    );
  });
});
