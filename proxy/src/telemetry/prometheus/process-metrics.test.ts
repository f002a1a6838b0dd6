import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { describe, test } from 'node:test';
import { processMetrics } from './process-metrics.ts';

/** name → { type, samples: [labels text, value] } of an exposition, checking its structure on the way. */
function families(text: string): Map<string, { type: string; samples: Array<[string, number]> }> {
  const out = new Map<string, { type: string; samples: Array<[string, number]> }>();
  let current: { type: string; samples: Array<[string, number]> } | undefined;
  for (const line of text.split('\n').slice(0, -1)) {
    const help = /^# HELP (\S+) \S/.exec(line);
    if (help) continue;
    const type = /^# TYPE (\S+) (counter|gauge)$/.exec(line);
    if (type) {
      current = { type: type[2]!, samples: [] };
      out.set(type[1]!, current);
      continue;
    }
    const sample = /^([a-z_]+)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(sample && current && out.get(sample[1]!) === current, `a sample of the family above: ${line}`);
    current.samples.push([sample[2] ?? '', Number(sample[3])]);
  }
  return out;
}

function value(text: string, name: string): number | undefined {
  return families(text).get(name)?.samples[0]?.[1];
}

describe('processMetrics', () => {
  test('the process and Node.js families, with prom-client names and types, and sane values', () => {
    const collector = processMetrics();
    const text = collector.expose();
    const f = families(text);
    for (const [name, type] of [
      ['process_cpu_user_seconds_total', 'counter'],
      ['process_cpu_system_seconds_total', 'counter'],
      ['process_cpu_seconds_total', 'counter'],
      ['process_start_time_seconds', 'gauge'],
      ['process_resident_memory_bytes', 'gauge'],
      ['nodejs_heap_size_total_bytes', 'gauge'],
      ['nodejs_heap_size_used_bytes', 'gauge'],
      ['nodejs_external_memory_bytes', 'gauge'],
      ['nodejs_heap_space_size_used_bytes', 'gauge'],
      ['nodejs_version_info', 'gauge'],
    ])
      assert.equal(f.get(name!)?.type, type, name);
    for (const name of f.keys()) assert.ok(collector.names.includes(name), `${name} is declared`);
    assert.ok(value(text, 'process_resident_memory_bytes')! > 0);
    assert.ok(value(text, 'nodejs_heap_size_used_bytes')! > 0);
    assert.ok(value(text, 'nodejs_heap_size_total_bytes')! >= value(text, 'nodejs_heap_size_used_bytes')!);
    const cpu = value(text, 'process_cpu_seconds_total')!;
    assert.ok(
      Math.abs(
        cpu -
          value(text, 'process_cpu_user_seconds_total')! -
          value(text, 'process_cpu_system_seconds_total')!,
      ) < 1e-9,
    );
    const start = value(text, 'process_start_time_seconds')!;
    assert.ok(
      Number.isInteger(start) &&
        start <= Date.now() / 1000 + 1 &&
        start > Date.now() / 1000 - 3600 * 24 * 365,
    );
    const [major, minor, patch] = process.versions.node.split('.');
    assert.deepEqual(f.get('nodejs_version_info')?.samples, [
      [`version="${process.version}",major="${major}",minor="${minor}",patch="${patch}"`, 1],
    ]);
    assert.ok(
      f.get('nodejs_heap_space_size_used_bytes')!.samples.some(([labels]) => labels === 'space="old"'),
    );
    if (existsSync('/proc/self/fd')) {
      assert.ok(value(text, 'process_open_fds')! > 2);
      assert.ok(value(text, 'process_max_fds')! >= value(text, 'process_open_fds')!);
      assert.ok(
        value(text, 'process_virtual_memory_bytes')! >= value(text, 'process_resident_memory_bytes')!,
      );
    }
  });

  test('read at each scrape: CPU time grows after work', () => {
    const collector = processMetrics();
    const before = value(collector.expose(), 'process_cpu_seconds_total')!;
    // Busy until the CPU clock moves (its resolution may be coarse); bounded so it cannot hang.
    const deadline = Date.now() + 10_000;
    let after = before;
    let x = 0;
    while (after <= before && Date.now() < deadline) {
      for (let i = 0; i < 1e6; i++) x += Math.sqrt(i);
      after = value(collector.expose(), 'process_cpu_seconds_total')!;
    }
    assert.ok(x > 0);
    assert.ok(after > before, `CPU time ${after} after ${before}`);
  });

  test('no timer or observer is left behind: the process can exit with the collector alive', () => {
    const handles = process.getActiveResourcesInfo().length;
    const collector = processMetrics();
    collector.expose();
    assert.equal(process.getActiveResourcesInfo().length, handles);
  });
});
