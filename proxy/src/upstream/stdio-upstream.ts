/**
 * The stdio upstream: fronts an MCP server that speaks newline-delimited JSON-RPC on stdin/stdout.
 * A child process per legacy session, and warm children for stateless requests (see `channel-upstream.ts`).
 *
 * @module
 */
import { type ChannelLimits, createChannelUpstream, positive } from './channel-upstream.ts';
import { type StdioSpawnEvent, stdioChannels } from './stdio-channel.ts';
import type { StdioLog, StdioSpawn } from './stdio-child.ts';
import type { Upstream } from './upstream.ts';

export interface StdioUpstreamOptions extends ChannelLimits {
  /** The MCP server's executable, run without a shell. */
  command: string;
  /** Its arguments, from configuration only. */
  args: readonly string[];
  /** Variables set for the child on top of `inheritEnv`. */
  env?: Record<string, string>;
  /** Names copied from the proxy's environment. Default `DEFAULT_INHERITED_ENV` (PATH, HOME, …). */
  inheritEnv?: readonly string[];
  cwd?: string;
  /** Graceful shutdown: wait after closing stdin before SIGTERM. Default 2000 ms. */
  closeTimeoutMs?: number;
  /** Graceful shutdown: wait after SIGTERM before SIGKILL. Default 2000 ms. */
  killTimeoutMs?: number;
  /** The longest stdout line accepted from the server. Default 16 MiB. */
  maxLineBytes?: number;
  /** Default: discard. */
  log?: StdioLog;
  /** What the proxy calls itself to the server on warm stateless channels. */
  clientInfo?: { name: string; version: string };
  /** Test seam: replaces `child_process.spawn`. */
  spawn?: StdioSpawn;
  /** Hears of every spawn of the server (the proxy audits them). */
  onSpawn?: (spawn: StdioSpawnEvent) => void;
}

/**
 * Creates the stdio upstream. No process starts until a client needs one.
 *
 * @throws TypeError when `command` is empty or `args` is not an array of strings, or a limit is not positive.
 * @example
 * const upstream = createStdioUpstream({ command: 'npx', args: ['-y', '@modelcontextprotocol/server-everything'], log });
 * const result = await upstream.forward(exchange, res);
 */
export function createStdioUpstream(options: StdioUpstreamOptions): Upstream {
  if (typeof options.command !== 'string' || options.command === '') {
    throw new TypeError('Invalid "command" option: expected a non-empty string');
  }
  if (!Array.isArray(options.args) || options.args.some((a) => typeof a !== 'string')) {
    throw new TypeError('Invalid "args" option: expected an array of strings');
  }
  const log: StdioLog = options.log ?? (() => {});
  const open = stdioChannels({
    command: options.command,
    args: [...options.args],
    env: options.env,
    inheritEnv: options.inheritEnv,
    onSpawn: options.onSpawn,
    cwd: options.cwd,
    maxLineBytes: positive('maxLineBytes', options.maxLineBytes, 16 * 1024 * 1024),
    closeTimeoutMs: positive('closeTimeoutMs', options.closeTimeoutMs, 2000),
    killTimeoutMs: positive('killTimeoutMs', options.killTimeoutMs, 2000),
    spawn: options.spawn,
    log,
  });
  const clientInfo = options.clientInfo ?? { name: 'tessera-proxy', version: '0' };
  return createChannelUpstream({ ...options, kind: 'stdio', open, log, clientInfo });
}
