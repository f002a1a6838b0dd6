/**
 * What a benchmark's results record about where and what they measured: the machine, and the commit
 * with whether the proxy's sources differed from it.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

/** A sysfs value, or null where this kernel has none. */
function sysfs(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

export function machine() {
  const list = cpus();
  const haltPoll = sysfs('/sys/module/haltpoll/parameters/guest_halt_poll_ns');
  return {
    cpus: list.length,
    cpu_model: list[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    // How an idle CPU waits is part of what a pause between requests costs, which the figures at fixed
    // rates pay on every request (see the README's benchmark notes).
    cpuidle: {
      driver: sysfs('/sys/devices/system/cpu/cpuidle/current_driver'),
      governor: sysfs('/sys/devices/system/cpu/cpuidle/current_governor_ro'),
      guest_halt_poll_ns: haltPoll === null ? null : Number(haltPoll),
    },
  };
}

/** The commit measured, and whether the proxy's sources differ from it. */
export function sourceState() {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { cwd: repoRoot, encoding: 'utf8' }).trim();
    } catch {
      return '';
    }
  };
  return {
    commit: git('rev-parse', 'HEAD') || 'unknown',
    proxy_sources_modified: git('status', '--porcelain', '--', 'proxy/src') !== '',
  };
}
