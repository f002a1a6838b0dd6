/**
 * The standalone GET stream of one legacy (2025-11-25) Streamable HTTP session, as its client reads it:
 * where the server sends what belongs to no request (`notifications/tools/list_changed`, `ping`,
 * `roots/list`). Every message event's data goes to `onMessage`.
 *
 * The rules (2025-11-25 transports §Listening for Messages from the Server, §Resumability):
 * - `405` means the server offers no stream: nothing more is tried;
 * - `404` means the server forgot the session: `onForgotten`, and nothing more is tried;
 * - a stream that ends or fails is opened again with `Last-Event-ID` (the last event id seen, on any
 *   connection of this stream), after `reconnectDelay`: exponential from `baseMs`, at least the server's
 *   `retry:` and at most `maxMs`;
 * - an attempt that opens no stream, or a stream that ends without a single event, is a failure; an
 *   event resets the count. After `maxFailures` failures in a row the reader gives up with a `warn` log
 *   line: a server that keeps refusing must not cost a request every few seconds forever. The session
 *   still carries requests; only what the server sends outside answers is lost.
 *
 * It stops when `signal` aborts, which also aborts the GET and the wait before the next one.
 *
 * The same reader resumes a POST's answer stream the server closed before answering (2025-11-25
 * §Resumability, "SSE polling"): started from that stream's last event id, after the server's `retry:`,
 * it GETs with `Last-Event-ID` until `until()` holds (the answer has come).
 *
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createSseEventParser, sseEvents } from './sse-event-parser.ts';
import type { StdioLog } from './stdio-child.ts';
import type { UpstreamTransport } from './upstream-transport.ts';

/** How hard the reader tries to keep the stream open. */
export interface ReconnectPolicy {
  /** The wait after a stream that delivered, doubled with each failure in a row. */
  baseMs: number;
  /** The longest wait, the server's `retry:` included. */
  maxMs: number;
  /** Failures in a row after which the reader gives up. */
  maxFailures: number;
}

/** Half a second, doubling to 30 s: eight failures in a row span about a minute and a half. */
export const DEFAULT_RECONNECT: ReconnectPolicy = { baseMs: 500, maxMs: 30_000, maxFailures: 8 };

export interface SessionStreamOptions {
  transport: UpstreamTransport;
  /** Path and query of the MCP endpoint. */
  path: string;
  /** The session's `Mcp-Session-Id` and `MCP-Protocol-Version` headers. */
  headers: Record<string, string>;
  /** Ends the reader, its GET and its wait. */
  signal: AbortSignal;
  /** The data of every non-empty `message` event. */
  onMessage: (data: string) => void;
  /** The server answered `404`: it no longer knows the session. */
  onForgotten: () => void;
  log: StdioLog;
  /** Names the session in log lines. */
  context: Record<string, unknown>;
  reconnect?: ReconnectPolicy;
  /** What the log lines call the stream; default `GET stream`. */
  name?: string;
  /** Resume the stream this event id belongs to: the first GET carries it, after `retryMs`. */
  lastEventId?: string;
  /** The server's `retry:` seen before, on the stream being resumed. */
  retryMs?: number;
  /** Checked after every message: once true, the reader lets the stream go and returns. */
  until?: () => boolean;
  /**
   * Called once, when the first GET has been answered (or has failed): true when it opened a stream.
   * From then on the server can reach the session's client.
   */
  onFirstAnswer?: (opened: boolean) => void;
}

/**
 * The wait before the next GET after `failures` failures in a row, given the server's `retry:`. Pure.
 *
 * @example
 * reconnectDelay(0, undefined, DEFAULT_RECONNECT); // 500
 * reconnectDelay(3, 1_000, DEFAULT_RECONNECT); // 4000
 * reconnectDelay(0, 60_000, DEFAULT_RECONNECT); // 30000
 */
export function reconnectDelay(
  failures: number,
  retryMs: number | undefined,
  policy: ReconnectPolicy,
): number {
  const backoff = policy.baseMs * 2 ** Math.min(failures, 30);
  return Math.min(policy.maxMs, Math.max(backoff, retryMs ?? 0));
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return typeof e.code === 'string' ? e.code : String(e.message ?? err);
}

/**
 * Reads the session's GET stream until the signal aborts, the server refuses it for good, or the
 * reader gives up. Never rejects.
 *
 * @example
 * void readSessionStream({ transport, path: '/mcp', headers: { 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' },
 *   signal, onMessage: deliver, onForgotten: () => end(forgotten), log, context: { session: id } });
 */
export async function readSessionStream(options: SessionStreamOptions): Promise<void> {
  const { transport, signal, log, context } = options;
  const policy = options.reconnect ?? DEFAULT_RECONNECT;
  const name = options.name ?? 'GET stream';
  let lastEventId = options.lastEventId;
  let retryMs = options.retryMs;
  let failures = 0;
  let first = options.onFirstAnswer;
  const answered = (opened: boolean) => {
    first?.(opened);
    first = undefined;
  };
  // A resumed stream was closed by the server on purpose: it asked for its `retry:` wait, no more.
  if (lastEventId !== undefined && !(await pause(Math.min(retryMs ?? 0, policy.maxMs), signal))) return;
  while (!signal.aborted) {
    let why: string;
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream', ...options.headers };
      if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
      const response = await transport.request({
        method: 'GET',
        path: options.path,
        headers,
        body: undefined,
        signal,
        stripOnCrossOriginRedirect: [],
      });
      const type = String(response.headers['content-type'] ?? '');
      const opened = response.statusCode === 200 && type.startsWith('text/event-stream');
      answered(opened);
      if (!opened) {
        response.body.resume();
        if (response.statusCode === 405) {
          log('debug', `the MCP server offers no ${name}`, context);
          return;
        }
        if (response.statusCode === 404) return options.onForgotten();
        why = `HTTP ${response.statusCode} ${type}`.trim();
        failures++;
      } else {
        const parser = createSseEventParser();
        let events = 0;
        try {
          for await (const event of sseEvents(response.body, parser)) {
            events++;
            if (event.id !== undefined) lastEventId = event.id;
            if (event.event === 'message' && event.data !== '') options.onMessage(event.data);
            if (signal.aborted || options.until?.()) return;
          }
          why = 'the stream ended';
        } catch (err) {
          why = `the stream failed: ${describe(err)}`;
        }
        retryMs = parser.retryMs ?? retryMs;
        failures = events > 0 ? 0 : failures + 1;
      }
    } catch (err) {
      answered(false);
      why = `the GET failed: ${describe(err)}`;
      failures++;
    }
    if (signal.aborted) return;
    if (failures >= policy.maxFailures) {
      log('warn', `gave up on the MCP server’s ${name}`, { ...context, failures, reason: why });
      return;
    }
    const delayMs = reconnectDelay(failures, retryMs, policy);
    log('debug', `reopening the MCP server’s ${name}`, { ...context, reason: why, delayMs, lastEventId });
    if (!(await pause(delayMs, signal))) return;
  }
}

/** Waits `ms`; false when the signal aborted the wait. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}
