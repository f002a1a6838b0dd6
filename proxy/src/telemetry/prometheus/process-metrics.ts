/**
 * The process and Node.js metrics, under the names and types of prom-client's default metrics so
 * that dashboards built on those keep working. Everything is read when scraped: no timer, no
 * observer, nothing running between scrapes.
 *
 * Exported: `process_cpu_user_seconds_total`, `process_cpu_system_seconds_total`,
 * `process_cpu_seconds_total`, `process_start_time_seconds`, `process_resident_memory_bytes`, and on
 * Linux `process_virtual_memory_bytes`, `process_heap_bytes`, `process_open_fds`, `process_max_fds`;
 * `nodejs_heap_size_total_bytes`, `nodejs_heap_size_used_bytes`, `nodejs_external_memory_bytes`,
 * `nodejs_heap_space_size_{total,used,available}_bytes{space}`, `nodejs_version_info`.
 *
 * Not exported, of prom-client's defaults:
 * - `nodejs_eventloop_lag_*`: measuring them keeps a 10 ms sampling timer (`monitorEventLoopDelay`)
 *   running in the sidecar all the time.
 * - `nodejs_gc_duration_seconds`: needs a `PerformanceObserver` on every GC.
 * - `nodejs_active_handles*`, `nodejs_active_requests*`: read through Node's private
 *   `process._getActiveHandles()` / `_getActiveRequests()`; `nodejs_active_resources*`: lists every
 *   resource of the process on each scrape. None of them is on the proxy's dashboards.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getHeapSpaceStatistics } from 'node:v8';
import { familyHeader, type MetricType, renderLabels, sampleLine } from './exposition.ts';
import type { Collector } from './metric.ts';

const CPU_USER = 'process_cpu_user_seconds_total';
const CPU_SYSTEM = 'process_cpu_system_seconds_total';
const CPU = 'process_cpu_seconds_total';
const START_TIME = 'process_start_time_seconds';
const RESIDENT = 'process_resident_memory_bytes';
const VIRTUAL = 'process_virtual_memory_bytes';
const HEAP = 'process_heap_bytes';
const OPEN_FDS = 'process_open_fds';
const MAX_FDS = 'process_max_fds';
const HEAP_TOTAL = 'nodejs_heap_size_total_bytes';
const HEAP_USED = 'nodejs_heap_size_used_bytes';
const EXTERNAL = 'nodejs_external_memory_bytes';
const SPACE_TOTAL = 'nodejs_heap_space_size_total_bytes';
const SPACE_USED = 'nodejs_heap_space_size_used_bytes';
const SPACE_AVAILABLE = 'nodejs_heap_space_size_available_bytes';
const VERSION = 'nodejs_version_info';

/** One family of one unlabelled sample, or nothing when the value is unknown here. */
function single(name: string, help: string, type: MetricType, value: number | undefined): string {
  return value === undefined ? '' : familyHeader(name, help, type) + sampleLine(name, '', value);
}

/** `VmRSS`, `VmSize` and `VmData` of `/proc/self/status`, in bytes; undefined off Linux. */
function procStatus(): { rss: number; virtual: number; data: number } | undefined {
  let status: string;
  try {
    status = readFileSync('/proc/self/status', 'latin1');
  } catch {
    return undefined;
  }
  const kB = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status);
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const rss = kB('VmRSS');
  const virtual = kB('VmSize');
  const data = kB('VmData');
  return rss === undefined || virtual === undefined || data === undefined
    ? undefined
    : { rss, virtual, data };
}

/** The open file descriptors, without the one that lists them; undefined without `/proc`. */
function openFds(): number | undefined {
  try {
    return readdirSync('/proc/self/fd').length - 1;
  } catch {
    return undefined;
  }
}

/** The soft limit on open files from `/proc/self/limits`; undefined when unknown or unlimited. */
function maxFds(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)\s/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A collector of the process and Node.js metrics, read at each scrape.
 *
 * @example
 * registry.register(processMetrics());
 */
export function processMetrics(): Collector {
  const startTime = Math.round(Date.now() / 1000 - process.uptime());
  // The limit rarely changes during a process' life; prom-client reads it once too.
  const maxFdsValue = maxFds();
  const [major, minor, patch] = process.versions.node.split('.');
  const versionLabels = renderLabels(
    ['version', 'major', 'minor', 'patch'],
    [process.version, major ?? '', minor ?? '', patch ?? ''],
  );
  const names = [
    CPU_USER,
    CPU_SYSTEM,
    CPU,
    START_TIME,
    RESIDENT,
    VIRTUAL,
    HEAP,
    OPEN_FDS,
    MAX_FDS,
    HEAP_TOTAL,
    HEAP_USED,
    EXTERNAL,
    SPACE_TOTAL,
    SPACE_USED,
    SPACE_AVAILABLE,
    VERSION,
  ];
  return {
    names,
    expose() {
      const cpu = process.cpuUsage();
      const memory = process.memoryUsage();
      const status = procStatus();
      let text =
        single(CPU_USER, 'Total user CPU time spent in seconds.', 'counter', cpu.user / 1e6) +
        single(CPU_SYSTEM, 'Total system CPU time spent in seconds.', 'counter', cpu.system / 1e6) +
        single(
          CPU,
          'Total user and system CPU time spent in seconds.',
          'counter',
          (cpu.user + cpu.system) / 1e6,
        ) +
        single(START_TIME, 'Start time of the process since unix epoch in seconds.', 'gauge', startTime) +
        single(RESIDENT, 'Resident memory size in bytes.', 'gauge', status?.rss ?? memory.rss) +
        single(VIRTUAL, 'Virtual memory size in bytes.', 'gauge', status?.virtual) +
        single(HEAP, 'Process heap size in bytes.', 'gauge', status?.data) +
        single(OPEN_FDS, 'Number of open file descriptors.', 'gauge', openFds()) +
        single(MAX_FDS, 'Maximum number of open file descriptors.', 'gauge', maxFdsValue) +
        single(HEAP_TOTAL, 'Process heap size from Node.js in bytes.', 'gauge', memory.heapTotal) +
        single(HEAP_USED, 'Process heap size used from Node.js in bytes.', 'gauge', memory.heapUsed) +
        single(EXTERNAL, 'Node.js external memory size in bytes.', 'gauge', memory.external);
      text += heapSpaces();
      text += familyHeader(VERSION, 'Node.js version info.', 'gauge') + sampleLine(VERSION, versionLabels, 1);
      return text;
    },
  };
}

/** The three heap-space families, `space` named as prom-client names it (`new`, `old`, `code`...). */
function heapSpaces(): string {
  let total = familyHeader(SPACE_TOTAL, 'Process heap space size total from Node.js in bytes.', 'gauge');
  let used = familyHeader(SPACE_USED, 'Process heap space size used from Node.js in bytes.', 'gauge');
  let available = familyHeader(
    SPACE_AVAILABLE,
    'Process heap space size available from Node.js in bytes.',
    'gauge',
  );
  for (const space of getHeapSpaceStatistics()) {
    const name = space.space_name.endsWith('_space') ? space.space_name.slice(0, -6) : space.space_name;
    const labels = renderLabels(['space'], [name]);
    total += sampleLine(SPACE_TOTAL, labels, space.space_size);
    used += sampleLine(SPACE_USED, labels, space.space_used_size);
    available += sampleLine(SPACE_AVAILABLE, labels, space.space_available_size);
  }
  return total + used + available;
}
