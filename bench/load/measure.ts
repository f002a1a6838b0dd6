/**
 * One measured run: the load generator (its own process) runs a command while the driver reads, at
 * the measured window's start and end marks, the CPU time of every process and how the proxy's was
 * spent (user, system, context switches), and at its end the proxy's memory.
 *
 * @module
 */
import { join } from 'node:path';
import type { Child, Children } from './children.ts';
import { cpuSeconds, descendantCpuSeconds, memory, type SchedSample, sched } from './proc-stats.ts';
import type { LoadCommand, LoadMessage, LoadResult } from './protocol.ts';
import type { CpuByProcess, RunRecord } from './report.ts';

/** The processes whose CPU a run accounts; `proxy` is whatever sits in the middle, `fixture` the upstream. */
export interface Processes {
  proxy: Child;
  fixture: Child;
  generator: Child;
  controlPlane: Child;
}

/** The measured window on the driver's monotonic clock (the clock of a V8 CPU profile too). */
export interface Window {
  startNs: bigint;
  endNs: bigint;
}

interface CpuReading {
  byProcess: CpuByProcess;
  /** The control plane's descendants (its PostgreSQL), by pid. */
  postgres: Map<number, number>;
}

function cpuAll(p: Processes): CpuReading {
  return {
    byProcess: {
      proxy: cpuSeconds(p.proxy.pid),
      fixture: cpuSeconds(p.fixture.pid),
      load_generator: cpuSeconds(p.generator.pid),
      control_plane: cpuSeconds(p.controlPlane.pid),
      postgres: 0,
    },
    postgres: descendantCpuSeconds(p.controlPlane.pid),
  };
}

/** CPU seconds between two readings; a PostgreSQL process started in between counts whole. */
function cpuBetween(before: CpuReading, after: CpuReading): CpuByProcess {
  let postgres = 0;
  for (const [pid, s] of after.postgres) postgres += s - (before.postgres.get(pid) ?? 0);
  return perProcess(before.byProcess, (k) =>
    k === 'postgres' ? postgres : after.byProcess[k] - before.byProcess[k],
  );
}

/** The proxy's scheduling figures between two samples, per 1000 answered requests. */
function schedPer1000(before: SchedSample, after: SchedSample, answered: number): SchedSample {
  const out = { ...before };
  for (const key of Object.keys(before) as (keyof SchedSample)[]) {
    const per = answered > 0 ? ((after[key] - before[key]) / answered) * 1000 : 0;
    out[key] = Math.round(per * 1000) / 1000;
  }
  return out;
}

function perProcess(a: CpuByProcess, f: (key: keyof CpuByProcess) => number): CpuByProcess {
  const out = { ...a };
  for (const key of Object.keys(a) as (keyof CpuByProcess)[]) out[key] = Math.round(f(key) * 1000) / 1000;
  return out;
}

/** Starts the load generator and waits for it to say it is ready. */
export async function startGenerator(children: Children): Promise<Child> {
  const generator = children.fork('load generator', join(import.meta.dirname, 'load-generator.ts'));
  await new Promise<void>((ok, fail) => {
    generator.process.once('message', () => ok());
    generator.process.once('exit', () => fail(new Error(`load generator exited:\n${generator.output()}`)));
  });
  return generator;
}

/** Runs one command on the load generator and accounts the processes' CPU over its measured window. */
export function measure(
  p: Processes,
  target: RunRecord['target'],
  command: LoadCommand,
): Promise<{ record: RunRecord; window: Window }> {
  const gen = p.generator.process;
  const limitMs = (command.warmupS + command.measureS + 60) * 1000;
  return new Promise((resolve, reject) => {
    let before: CpuReading | undefined;
    let after: CpuReading | undefined;
    let proxyMemory: RunRecord['proxy_memory'] | undefined;
    let schedBefore: SchedSample | undefined;
    let schedAfter: SchedSample | undefined;
    const window: Window = { startNs: 0n, endNs: 0n };
    const timer = setTimeout(() => done(new Error(`a run took longer than ${limitMs / 1000} s`)), limitMs);

    function done(err: Error | undefined, result?: LoadResult): void {
      clearTimeout(timer);
      gen.off('message', onMessage);
      gen.off('exit', onExit);
      if (!err && (!before || !after || !schedBefore || !schedAfter || !proxyMemory || !result))
        err = new Error('a run ended without its marks');
      if (err) {
        reject(err);
        return;
      }
      const answered = result!.measured.ok + result!.measured.errors;
      const cpu = cpuBetween(before!, after!);
      resolve({
        record: {
          target,
          result: result!,
          cpu_s: cpu,
          cpu_s_per_1000_requests: perProcess(cpu, (k) => (answered > 0 ? (cpu[k] / answered) * 1000 : 0)),
          proxy_memory: proxyMemory!,
          proxy_sched_per_1000_requests: schedPer1000(schedBefore!, schedAfter!, answered),
        },
        window,
      });
    }
    function onMessage(m: LoadMessage): void {
      if (m.type === 'mark' && m.mark === 'measure-start') {
        window.startNs = process.hrtime.bigint();
        before = cpuAll(p);
        schedBefore = sched(p.proxy.pid);
      } else if (m.type === 'mark' && m.mark === 'measure-end') {
        window.endNs = process.hrtime.bigint();
        after = cpuAll(p);
        schedAfter = sched(p.proxy.pid);
        proxyMemory = memory(p.proxy.pid);
      } else if (m.type === 'result') done(undefined, m.result);
      else if (m.type === 'error') done(new Error(`load generator: ${m.message}`));
    }
    const onExit = () => done(new Error(`the load generator exited:\n${p.generator.output()}`));
    gen.on('message', onMessage);
    gen.once('exit', onExit);
    gen.send(command);
  });
}

/** One line for the console. */
export function describe(r: RunRecord): string {
  const m = r.result.measured;
  const l = r.result.latency;
  const errors = m.errors > 0 ? ` errors=${JSON.stringify(m.errorKinds)}` : '';
  return `${r.target.padEnd(7)} ${m.achievedRps.toFixed(0).padStart(6)} req/s  p50 ${l.p50_ms.toFixed(3)}  p90 ${l.p90_ms.toFixed(3)}  p99 ${l.p99_ms.toFixed(3)} ms  ${r.target === 'reference' ? 'forwarder' : 'proxy'} cpu ${r.cpu_s_per_1000_requests.proxy.toFixed(3)} s/1000${errors}`;
}
