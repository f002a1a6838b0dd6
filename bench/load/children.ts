/**
 * The benchmark's child processes, tracked so that every one is stopped however the run ends: in
 * reverse start order, SIGTERM first, SIGKILL after its grace period. The control plane's grace is
 * long enough for it to stop its embedded PostgreSQL.
 *
 * @module
 */
import { type ChildProcess, fork, type SpawnOptions, spawn } from 'node:child_process';

export interface Child {
  name: string;
  process: ChildProcess;
  pid: number;
  /** The last 16 KB the child wrote to stderr (and stdout, when piped), for error messages. */
  output(): string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop(): Promise<void>;
}

export interface Children {
  spawn(name: string, args: string[], options: SpawnOptions & { graceMs?: number }): Child;
  /** Starts a TypeScript module of this folder with an IPC channel. */
  fork(name: string, modulePath: string, options?: { graceMs?: number }): Child;
  stopAll(): Promise<void>;
}

const TAIL = 16 * 1024;

function track(name: string, child: ChildProcess, graceMs: number, onGone: () => void): Child {
  if (child.pid === undefined) throw new Error(`could not start ${name}`);
  let tail = '';
  const keep = (d: Buffer) => {
    tail = (tail + d.toString()).slice(-TAIL);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      onGone();
      resolve(code);
    }),
  );
  const running = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    process: child,
    pid: child.pid,
    output: () => tail,
    exited,
    async stop() {
      if (!running()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => {
        if (running()) child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

export function createChildren(): Children {
  const live: Child[] = [];
  function add(name: string, proc: ChildProcess, graceMs: number): Child {
    // The exit callback runs on a later turn, when `child` is assigned.
    const child: Child = track(name, proc, graceMs, () => {
      const i = live.indexOf(child);
      if (i !== -1) live.splice(i, 1);
    });
    live.push(child);
    return child;
  }
  return {
    spawn(name, args, { graceMs = 5_000, ...options }) {
      return add(name, spawn(process.execPath, args, options), graceMs);
    },
    fork(name, modulePath, { graceMs = 5_000 } = {}) {
      const proc = fork(modulePath, [], { stdio: ['ignore', 'inherit', 'pipe', 'ipc'], execArgv: [] });
      return add(name, proc, graceMs);
    },
    async stopAll() {
      for (const child of [...live].reverse()) await child.stop();
    },
  };
}
