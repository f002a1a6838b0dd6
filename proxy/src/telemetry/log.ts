/**
 * Structured JSON logs on stderr (stdout stays free for tools that read the proxy's output), one line
 * per event, in the shape pino writes (numeric `level`, epoch-millisecond `time`, `pid`, `hostname`,
 * the bindings, the fields, `msg`), so log pipelines built for it keep working. Written by hand
 * because pino and its streams were 30 modules of the sidecar's private memory for this one function.
 *
 * @module
 */
import { hostname } from 'node:os';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** pino's numbers for the levels. */
export const LEVEL_NUMBERS: Readonly<Record<LogLevel, number>> = { debug: 20, info: 30, warn: 40, error: 50 };

/** What JSON cannot hold becomes something it can: a bigint its digits, an Error its name and message. */
function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Error) return { type: value.name, message: value.message, stack: value.stack };
  return value;
}

/**
 * Creates the process logger; every line carries the proxy's server and node id. `write` receives each
 * line with its newline (default: stderr, which Node writes synchronously to files and pipes on Linux,
 * so a line logged just before an exit is not lost).
 *
 * @example
 * const log = createLog('info', { server: 'github' });
 * log('warn', 'mesh stream ended', { code: 'unavailable' });
 * // {"level":40,"time":1764000000000,"pid":7,"hostname":"pod-1","component":"proxy","server":"github","code":"unavailable","msg":"mesh stream ended"}
 */
export function createLog(
  level: LogLevel,
  bindings: Record<string, unknown>,
  write: (line: string) => void = (line) => process.stderr.write(line),
): Log {
  const threshold = LEVEL_NUMBERS[level];
  const base = { pid: process.pid, hostname: hostname(), component: 'proxy', ...bindings };
  return (lvl, msg, fields) => {
    const n = LEVEL_NUMBERS[lvl];
    if (n < threshold) return;
    // The reserved keys are set last, so that a field cannot pass for the level, the time or the message.
    const time = Date.now();
    const record: Record<string, unknown> = { level: n, time, ...base, ...fields };
    record.level = n;
    record.time = time;
    record.msg = msg;
    let line: string;
    try {
      line = JSON.stringify(record, jsonSafe);
    } catch (err) {
      // A circular structure: the event is still logged, without its fields.
      line = JSON.stringify({
        level: n,
        time,
        ...base,
        msg,
        logError: `fields not serialisable: ${(err as Error).message}`,
      });
    }
    write(`${line}\n`);
  };
}
