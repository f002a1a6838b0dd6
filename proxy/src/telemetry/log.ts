/**
 * Structured JSON logs on stderr (stdout stays free for tools that read the proxy's output).
 *
 * @module
 */
import { pino } from 'pino';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type Log = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => void;

/** Creates the process logger; every line carries the proxy's server and node id. */
export function createLog(level: LogLevel, bindings: Record<string, unknown>): Log {
  const logger = pino({ level, base: { component: 'proxy', ...bindings } }, pino.destination(2));
  return (lvl, msg, fields) => logger[lvl](fields ?? {}, msg);
}
