/**
 * One MCP server process spoken to over stdio: newline-delimited JSON-RPC on stdin/stdout, free-form
 * diagnostics on stderr. This file owns only the process and its framing; sessions, request matching
 * and HTTP live in `stdio-session.ts` and `stdio-upstream.ts`.
 *
 * The shutdown sequence follows the MCP stdio transport: close stdin, wait, SIGTERM, wait, SIGKILL.
 *
 * @module
 */
import { type ChildProcess, spawn as nodeSpawn, type SpawnOptions } from 'node:child_process';

/** Log levels the stdio upstream reports at. */
export type StdioLogLevel = 'debug' | 'info' | 'warn' | 'error';
/** The injected logger. `msg` is a constant phrase; the variable parts go in `fields`. */
export type StdioLog = (level: StdioLogLevel, msg: string, fields?: Record<string, unknown>) => void;
/** The shape of `child_process.spawn` the child needs; a test seam. */
export type StdioSpawn = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

/**
 * Variables the child inherits from the proxy when present, the same set the MCP SDK's stdio client
 * passes. The rest of the proxy's environment (its credentials among it) never reaches the MCP server.
 */
export const DEFAULT_INHERITED_ENV: readonly string[] = ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'];

/** How a child ended. */
export interface StdioChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started (then `code` and `signal` say nothing). */
  error: Error | undefined;
  /** Set when the proxy killed the child for misbehaving. */
  fault: string | undefined;
  /** Whether the exit followed `close()` or `destroy()`. */
  requested: boolean;
  /** The last lines the child wrote to stderr, oldest first. */
  stderrTail: string[];
}

export interface StdioChildOptions {
  command: string;
  args: readonly string[];
  /** Set on top of the inherited variables. */
  env?: Record<string, string>;
  /** Names copied from the proxy's environment when set. Default {@link DEFAULT_INHERITED_ENV}. */
  inheritEnv?: readonly string[];
  cwd?: string;
  /** The longest stdout line accepted; a longer one kills the child. Default 16 MiB. */
  maxLineBytes?: number;
  /** How long `close()` waits after ending stdin before SIGTERM. Default 2000 ms. */
  closeTimeoutMs?: number;
  /** How long `close()` waits after SIGTERM before SIGKILL. Default 2000 ms. */
  killTimeoutMs?: number;
  log: StdioLog;
  /**
   * Called for every stdout line that is a JSON object. `line` is its text, guaranteed free of CR and
   * LF so it can be sent as one SSE `data:` field.
   */
  onMessage: (message: Record<string, unknown>, line: string) => void;
  /** Called once, when the process has exited and its pipes are closed. */
  onExit: (exit: StdioChildExit) => void;
  spawn?: StdioSpawn;
}

/** A running MCP server process. */
export interface StdioChild {
  readonly pid: number | undefined;
  readonly exited: boolean;
  /** Resolves once the child has exited, however it ended. */
  readonly exit: Promise<StdioChildExit>;
  /** Writes one message as one line. Returns false when the child can no longer receive. */
  send(message: unknown): boolean;
  /** Ends stdin, then escalates to SIGTERM and SIGKILL. Resolves once the child has exited. */
  close(): Promise<StdioChildExit>;
  /** Kills the child now for `fault`. Resolves once it has exited. */
  destroy(fault: string): Promise<StdioChildExit>;
}

const STDERR_MAX_LINE = 8 * 1024;
const STDERR_TAIL_LINES = 20;
// After 'exit' the pipes normally close at once; a grandchild holding them open must not stall shutdown.
const PIPE_GRACE_MS = 1000;

/**
 * Splits a byte stream on LF. A line longer than `max` bytes is cut: `onOverflow` gets its first `max`
 * bytes and the rest up to the next LF is discarded.
 */
function lineSplitter(max: number, onLine: (line: Buffer) => void, onOverflow: (head: Buffer) => void) {
  let parts: Buffer[] = [];
  let size = 0;
  let discarding = false;
  const append = (piece: Buffer) => {
    if (discarding || piece.length === 0) return;
    if (size + piece.length > max) {
      onOverflow(Buffer.concat([...parts, piece]).subarray(0, max));
      parts = [];
      size = 0;
      discarding = true;
      return;
    }
    parts.push(piece);
    size += piece.length;
  };
  const flush = () => {
    if (!discarding && size > 0) onLine(parts.length === 1 ? parts[0] : Buffer.concat(parts, size));
    parts = [];
    size = 0;
    discarding = false;
  };
  return {
    write(chunk: Buffer) {
      let start = 0;
      for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
        append(chunk.subarray(start, nl));
        flush();
        start = nl + 1;
      }
      append(chunk.subarray(start));
    },
    // An unterminated last line is still a line: a server may exit right after its final write.
    end: flush,
  };
}

function childEnv(options: StdioChildOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of options.inheritEnv ?? DEFAULT_INHERITED_ENV) {
    const value = process.env[name];
    // Exported shell functions ("() { ... }") are a known injection vector; never pass them on.
    if (value !== undefined && !value.startsWith('()')) env[name] = value;
  }
  return { ...env, ...options.env };
}

/**
 * Spawns the configured MCP server. Only `command` and `args` from configuration are used, never
 * anything from a request, and never through a shell.
 *
 * @example
 * const child = spawnStdioChild({
 *   command: 'node', args: ['server.js'], log,
 *   onMessage: (msg, line) => route(msg, line),
 *   onExit: (exit) => cleanup(exit),
 * });
 * child.send({ jsonrpc: '2.0', id: 1, method: 'ping' });
 * await child.close();
 */
export function spawnStdioChild(options: StdioChildOptions): StdioChild {
  const { log } = options;
  const maxLineBytes = options.maxLineBytes ?? 16 * 1024 * 1024;
  const closeTimeoutMs = options.closeTimeoutMs ?? 2000;
  const killTimeoutMs = options.killTimeoutMs ?? 2000;
  const proc = (options.spawn ?? nodeSpawn)(options.command, options.args, {
    shell: false,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: childEnv(options),
    cwd: options.cwd,
    windowsHide: true,
  });
  const pid = proc.pid;
  const stderrTail: string[] = [];
  const timers: NodeJS.Timeout[] = [];
  let exited = false;
  let requested = false;
  let fault: string | undefined;
  let spawnError: Error | undefined;
  let resolveExit: (exit: StdioChildExit) => void = () => {};
  const exitPromise = new Promise<StdioChildExit>((resolve) => {
    resolveExit = resolve;
  });

  const finish = (code: number | null, signal: NodeJS.Signals | null) => {
    if (exited) return;
    exited = true;
    for (const t of timers) clearTimeout(t);
    const exit: StdioChildExit = {
      code: spawnError ? null : code,
      signal,
      error: spawnError,
      fault,
      requested,
      stderrTail: [...stderrTail],
    };
    options.onExit(exit);
    resolveExit(exit);
  };

  const kill = (signal: NodeJS.Signals) => {
    if (exited || spawnError) return;
    log('debug', 'signalling MCP server process', { pid, signal });
    proc.kill(signal);
  };

  const stdout = lineSplitter(
    maxLineBytes,
    (bytes) => {
      let line = bytes.toString('utf8');
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.trim() === '') return;
      let value: unknown;
      try {
        value = JSON.parse(line);
      } catch {
        log('warn', 'MCP server wrote a stdout line that is not JSON; dropped', {
          pid,
          line: line.slice(0, 200),
        });
        return;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        log('warn', 'MCP server wrote a stdout line that is not a JSON object; dropped', {
          pid,
          line: line.slice(0, 200),
        });
        return;
      }
      // JSON allows CR as whitespace between tokens, and SSE would read it as a line break.
      if (line.includes('\r')) line = JSON.stringify(value);
      options.onMessage(value as Record<string, unknown>, line);
    },
    () => {
      if (fault) return;
      fault = `stdout line longer than ${maxLineBytes} bytes`;
      log('error', 'MCP server wrote an over-long stdout line; killing it', { pid, maxLineBytes });
      kill('SIGKILL');
    },
  );
  const stderr = lineSplitter(
    STDERR_MAX_LINE,
    (bytes) => onStderr(bytes.toString('utf8')),
    (head) => onStderr(`${head.toString('utf8')}…`),
  );
  function onStderr(raw: string) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') return;
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.shift();
    log('info', 'MCP server stderr', { pid, line });
  }

  proc.stdout?.on('data', (chunk: Buffer) => {
    if (!fault) stdout.write(chunk);
  });
  proc.stdout?.on('end', () => {
    if (!fault) stdout.end();
  });
  proc.stderr?.on('data', (chunk: Buffer) => stderr.write(chunk));
  proc.stderr?.on('end', () => stderr.end());
  // EPIPE after the child exited is expected; the exit path reports it.
  proc.stdin?.on('error', (err) => log('debug', 'MCP server stdin error', { pid, error: err.message }));
  proc.on('error', (err) => {
    if (pid === undefined) {
      spawnError = err;
      finish(null, null);
    } else {
      log('warn', 'MCP server process error', { pid, error: err.message });
    }
  });
  proc.on('exit', () => {
    const grace = setTimeout(() => {
      proc.stdout?.destroy();
      proc.stderr?.destroy();
    }, PIPE_GRACE_MS);
    grace.unref();
    timers.push(grace);
  });
  proc.on('close', (code, signal) => finish(code, signal));

  return {
    pid,
    get exited() {
      return exited;
    },
    exit: exitPromise,
    send(message) {
      const stdin = proc.stdin;
      if (exited || requested || fault || !stdin || !stdin.writable) return false;
      // JSON.stringify escapes every control character, so the text is exactly one line.
      stdin.write(`${JSON.stringify(message)}\n`);
      return true;
    },
    close() {
      if (!requested && !exited) {
        requested = true;
        proc.stdin?.end();
        timers.push(
          setTimeout(() => {
            kill('SIGTERM');
            timers.push(setTimeout(() => kill('SIGKILL'), killTimeoutMs));
          }, closeTimeoutMs),
        );
      }
      return exitPromise;
    },
    destroy(reason) {
      if (!exited) {
        requested = true;
        fault ??= reason;
        kill('SIGKILL');
      }
      return exitPromise;
    },
  };
}
