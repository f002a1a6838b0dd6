/**
 * What a benchmark's results record about where and what they measured: the machine, and the commit
 * with whether the proxy's sources differed from it.
 *
 * @module
 */
import { execFileSync } from 'node:child_process';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';

export const repoRoot = join(import.meta.dirname, '..', '..');

export function machine() {
  const list = cpus();
  return {
    cpus: list.length,
    cpu_model: list[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
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
