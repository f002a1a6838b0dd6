/**
 * What Linux says about a process: CPU time from `/proc/<pid>/stat` (every thread, so the libuv pool
 * and V8's GC helpers count too) and memory from `/proc/<pid>/status`.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

let clockTicks: number | undefined;

/** `sysconf(_SC_CLK_TCK)`: the unit of utime and stime (100 on practically every Linux). */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** User plus system CPU seconds the process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = statFields(pid);
  // stat(5): utime is field 14 and stime field 15; fields[0] is field 3 (state).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return ticks / clockTicksPerSecond();
}

/**
 * How a process spent its CPU and how often its main thread left it: user and system seconds (every
 * thread), and the main thread's context switches. A voluntary switch is the event loop going to sleep
 * for want of work; an involuntary one is the scheduler taking the core for another task.
 */
export interface SchedSample {
  user_s: number;
  system_s: number;
  voluntary_switches: number;
  involuntary_switches: number;
}

export function sched(pid: number): SchedSample {
  const fields = statFields(pid);
  // `/proc/<pid>/status` counts the thread group leader's switches: the event loop's.
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const count = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+)$`, 'm').exec(status)?.[1] ?? Number.NaN);
  return {
    user_s: Number(fields[11]) / clockTicksPerSecond(),
    system_s: Number(fields[12]) / clockTicksPerSecond(),
    voluntary_switches: count('voluntary_ctxt_switches'),
    involuntary_switches: count('nonvoluntary_ctxt_switches'),
  };
}

/** The fields of `/proc/<pid>/stat` after the command name (fields[0] is field 3, the state). */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name is in parentheses and may itself hold spaces.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * CPU seconds so far of every live descendant of `pid` (not `pid` itself), by pid: for the control
 * plane, its PostgreSQL server and backends. A process that exits between two readings is missed.
 */
export function descendantCpuSeconds(pid: number): Map<number, number> {
  const children = new Map<number, number[]>();
  const cpu = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const fields = statFields(Number(name));
      const ppid = Number(fields[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
      cpu.set(Number(name), (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond());
    } catch {
      // Gone since the directory was listed.
    }
  }
  const out = new Map<number, number>();
  const queue = [...(children.get(pid) ?? [])];
  for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
    out.set(next, cpu.get(next) ?? 0);
    queue.push(...(children.get(next) ?? []));
  }
  return out;
}

/** Memory of a process, in MiB. */
export interface MemorySample {
  /** Private (anonymous) resident memory: heap, stacks, JIT code. */
  rss_anon_mb: number;
  /** Resident file-backed pages: the node binary and libraries, shared with other processes. */
  rss_file_mb: number;
  /** Total resident set (VmRSS). */
  rss_total_mb: number;
  /** Peak total resident set since start (VmHWM). */
  rss_peak_mb: number;
}

export function memory(pid: number): MemorySample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB$`, 'm').exec(status);
    return m ? Number(m[1]) : Number.NaN;
  };
  const mb = (k: number) => Math.round((k / 1024) * 10) / 10;
  return {
    rss_anon_mb: mb(kb('RssAnon')),
    rss_file_mb: mb(kb('RssFile')),
    rss_total_mb: mb(kb('VmRSS')),
    rss_peak_mb: mb(kb('VmHWM')),
  };
}
