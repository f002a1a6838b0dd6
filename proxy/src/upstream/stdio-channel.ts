/**
 * The stdio message channel: a child process per channel, its exit mapped to the catalogue
 * (could not start → unavailable, anything else → exited) and logged with its stderr tail.
 *
 * @module
 */
import type { TesseraErrorCode } from '../errors.ts';
import type { ChannelEnd, OpenChannel } from './message-channel.ts';
import {
  type StdioChildExit,
  type StdioChildOptions,
  type StdioLog,
  spawnStdioChild,
} from './stdio-child.ts';

function exitFailure(exit: StdioChildExit): ChannelEnd {
  if (exit.error) {
    return {
      code: 'TESSERA_UPSTREAM_UNAVAILABLE' satisfies TesseraErrorCode,
      message: `could not start the MCP server: ${exit.error.message}`,
    };
  }
  const how = `code ${exit.code ?? 'none'}, signal ${exit.signal ?? 'none'}`;
  const fault = exit.fault ? `: ${exit.fault}` : '';
  return { code: 'TESSERA_UPSTREAM_EXITED', message: `the MCP server process exited (${how})${fault}` };
}

/** One spawn of the configured command, for the audit log. */
export interface StdioSpawnEvent {
  command: string;
  args: readonly string[];
  /** Undefined when the process could not be started. */
  pid: number | undefined;
  /** What the channel serves: `session` or `stateless` (an id), and `principal`. */
  context: Record<string, unknown>;
}

/**
 * Returns the opener of stdio channels for one configured command; `onSpawn` hears of every spawn.
 *
 * @example
 * const open = stdioChannels({ command: 'node', args: ['server.js'], log });
 * const channel = open({ onMessage, onEnd }, { session: id });
 */
export function stdioChannels(
  options: Omit<StdioChildOptions, 'onMessage' | 'onExit' | 'log'> & {
    log: StdioLog;
    onSpawn?: (spawn: StdioSpawnEvent) => void;
  },
): OpenChannel {
  const { log, onSpawn, ...childOptions } = options;
  return (handlers, context) => {
    const child = spawnStdioChild({
      ...childOptions,
      log,
      onMessage: handlers.onMessage,
      onExit: (exit) => {
        const fields = {
          ...context,
          pid: child.pid,
          code: exit.code,
          signal: exit.signal,
          fault: exit.fault,
        };
        if (exit.requested && !exit.fault) log('info', 'MCP server process exited', fields);
        else log('warn', 'MCP server process exited unexpectedly', { ...fields, stderr: exit.stderrTail });
        handlers.onEnd(exitFailure(exit));
      },
    });
    log('info', 'MCP server process started', { ...context, pid: child.pid });
    onSpawn?.({ command: options.command, args: options.args, pid: child.pid, context });
    return {
      send: (message) => child.send(message),
      close: () => child.close().then(() => {}),
      exit: child.exit.then(() => {}),
    };
  };
}
