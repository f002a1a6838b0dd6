/**
 * A server-sent-events response: the standalone GET stream of a session, or a POST response that
 * carries progress before its final answer. Writes `event: message` frames, keeps idle intermediaries
 * from cutting the connection with comment pings, and gives up on a client that stops reading rather
 * than buffering without bound.
 *
 * @module
 */
import type { ResponseWriter } from '../http1/outbound-response.ts';

/** The headers every SSE response carries. `X-Accel-Buffering: no` stops nginx from holding events back. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
};

export interface SseStreamOptions {
  res: ResponseWriter;
  /** How often an idle stream gets a `: ping` comment. */
  pingIntervalMs: number;
  /** Returns the `id:` of the next event; events carry no id when absent. */
  nextEventId?: () => string;
  /** Unsent bytes tolerated before the client is deemed stuck and the stream ended. Default 8 MiB. */
  maxBufferedBytes?: number;
  /** Called once when the stream has ended, whoever ended it. */
  onClose?: () => void;
}

/** An open SSE response. */
export interface SseStream {
  readonly closed: boolean;
  /** Body bytes written so far. */
  readonly bytes: number;
  /** Sends one JSON-RPC message (a single line of JSON). Returns false once the stream is closed. */
  send(json: string): boolean;
  /** Ends the response; idempotent. */
  end(): void;
}

/**
 * Writes the SSE status and headers and returns the stream.
 *
 * @example
 * const stream = openSseStream({ res, pingIntervalMs: 15_000, onClose: () => detach() });
 * stream.send('{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}');
 */
export function openSseStream(options: SseStreamOptions): SseStream {
  const { res } = options;
  const maxBuffered = options.maxBufferedBytes ?? 8 * 1024 * 1024;
  let closed = false;
  let bytes = 0;

  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(ping);
    res.off('close', close);
    if (!res.writableEnded && !res.destroyed) res.end();
    options.onClose?.();
  };
  const write = (text: string): boolean => {
    if (closed || res.destroyed) {
      close();
      return false;
    }
    res.write(text);
    bytes += Buffer.byteLength(text);
    if (res.writableLength > maxBuffered) {
      // Ending would wait for the backlog to drain; a client that stopped reading is cut off instead.
      res.destroy();
      close();
      return false;
    }
    return true;
  };

  res.writeHead(200, SSE_HEADERS);
  // Clients (fetch among them) see the stream only once the headers arrive.
  res.flushHeaders();
  res.on('close', close);
  const ping = setInterval(() => write(': ping\n\n'), options.pingIntervalMs);
  ping.unref();

  return {
    get closed() {
      return closed;
    },
    get bytes() {
      return bytes;
    },
    send(json) {
      const id = options.nextEventId?.();
      return write(`event: message\n${id === undefined ? '' : `id: ${id}\n`}data: ${json}\n\n`);
    },
    end: close,
  };
}

/**
 * Whether an `Accept` header lists `text/event-stream` (with a non-zero quality). Wildcards do not
 * count: MCP clients name the type explicitly.
 *
 * @example
 * acceptsEventStream('application/json, text/event-stream'); // true
 */
export function acceptsEventStream(accept: string | string[] | undefined): boolean {
  const values = Array.isArray(accept) ? accept : accept === undefined ? [] : [accept];
  for (const value of values) {
    for (const range of value.split(',')) {
      const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
      if (type !== 'text/event-stream') continue;
      const q = params.find((p) => p.startsWith('q='));
      if (q === undefined || Number(q.slice(2)) > 0) return true;
    }
  }
  return false;
}
