/**
 * The HTTP+SSE message channel, for MCP servers that only speak the transport of protocol revision
 * 2024-11-05: one `GET <sse url>` stream per channel, whose first `endpoint` event names the URL to POST
 * messages to; answers, notifications and server requests come back as `message` events on the stream.
 *
 * The endpoint is resolved against the SSE URL and must stay on its origin: a server cannot send the
 * proxy's traffic elsewhere. POSTs are sent one at a time in order (initialize must precede the rest),
 * and any refusal or loss of the stream ends the channel, so the requests in flight fail with the
 * catalogued error rather than waiting for an answer that will not come. A notification is delivered
 * only once the server has answered its POST, so a client is told `202` for what the server took; and a
 * graceful close lets the POSTs already queued finish first (for at most `closeDrainMs`), so that a
 * client's last notification is not lost to the `DELETE` right behind it.
 *
 * @module
 */
import { finished } from 'node:stream/promises';
import { Pool } from 'undici';
import { TesseraError } from '../errors.ts';
import { CLOSE_DRAIN_MS, drained } from './close-drain.ts';
import { createDispatcherTransport } from './dispatcher-transport.ts';
import type { ChannelEnd, OpenChannel } from './message-channel.ts';
import { sseEvents } from './sse-event-parser.ts';
import type { StdioLog } from './stdio-child.ts';
import type { UpstreamTransport } from './upstream-transport.ts';

export interface SseLegacyChannelOptions {
  /** The server's SSE URL (`GET` opens a channel). */
  url: URL;
  /** The `endpoint` event must arrive within this time. Default 10 s. */
  endpointTimeoutMs?: number;
  /** Upper bound for receiving response headers. Default 30 s. */
  headersTimeoutMs?: number;
  /** How long a graceful close waits for the POSTs already queued before it cuts them. Default 2 s. */
  closeDrainMs?: number;
  log: StdioLog;
  /**
   * Where the requests of one channel go, given its context (egress: with the credential of the user
   * in `context.user`); default: a pool of plain connections to the URL's origin.
   */
  transport?: (context: Record<string, unknown>) => UpstreamTransport;
}

/**
 * Resolves an `endpoint` event's data against the SSE URL. Pure.
 *
 * @throws Error when the data is not a URL reference or leaves the SSE URL's origin.
 * @example
 * resolveEndpoint('/messages?sessionId=1', new URL('http://127.0.0.1:3001/sse')); // http://127.0.0.1:3001/messages?sessionId=1
 */
export function resolveEndpoint(data: string, sseUrl: URL): URL {
  let endpoint: URL;
  try {
    endpoint = new URL(data.trim(), sseUrl);
  } catch {
    throw new Error(`the endpoint event is not a URL: ${JSON.stringify(data.slice(0, 200))}`);
  }
  if (endpoint.origin !== sseUrl.origin)
    throw new Error(`the endpoint ${endpoint.origin} is on another origin than ${sseUrl.origin}; refused`);
  endpoint.hash = '';
  return endpoint;
}

/** A closeable opener: `close()` releases the connection pool once every channel has ended. */
export type SseLegacyChannels = OpenChannel & { close(): Promise<void> };

/**
 * Returns the opener of HTTP+SSE channels to one server.
 *
 * @example
 * const open = sseLegacyChannels({ url: new URL('http://127.0.0.1:3001/sse'), log });
 * const channel = open({ onMessage, onEnd }, { session: id });
 */
export function sseLegacyChannels(options: SseLegacyChannelOptions): SseLegacyChannels {
  const { url, log } = options;
  const endpointTimeoutMs = options.endpointTimeoutMs ?? 10_000;
  const closeDrainMs = options.closeDrainMs ?? CLOSE_DRAIN_MS;
  const pool = options.transport
    ? undefined
    : createDispatcherTransport(
        new Pool(url.origin, {
          headersTimeout: options.headersTimeoutMs ?? 30_000,
          // The stream is idle between messages for as long as the session lives.
          bodyTimeout: 0,
        }),
        url.origin,
      );
  const transportFor = options.transport ?? (() => pool!);

  const open: OpenChannel = (handlers, context) => {
    const transport = transportFor(context);
    const abort = new AbortController();
    let endpoint: URL | undefined;
    let ended = false;
    // A graceful close has begun: nothing new is taken, what is queued still goes out.
    let closing = false;
    let requested = false;
    // Messages sent before the endpoint event, with what each sender waits on.
    const queue: { body: string; done: (accepted: boolean) => void }[] = [];
    let posting: Promise<void> = Promise.resolve();
    // Settles once the last message sent has been taken or given up: POSTs go out in order.
    let lastSent: Promise<unknown> = Promise.resolve();
    let resolveExit: () => void = () => {};
    const exit = new Promise<void>((resolve) => {
      resolveExit = resolve;
    });

    const end = (failure: ChannelEnd) => {
      if (ended) return;
      ended = true;
      clearTimeout(endpointTimer);
      abort.abort();
      if (requested) log('info', 'MCP server SSE connection closed', { ...context });
      else log('warn', 'MCP server SSE connection lost', { ...context, reason: failure.message });
      for (const waiting of queue.splice(0)) waiting.done(false);
      handlers.onEnd(failure);
      // Resolved once the POSTs already sent have settled, so close() really releases everything.
      void posting.then(resolveExit);
    };
    const lost = (message: string) => end({ code: 'TESSERA_UPSTREAM_UNAVAILABLE', message });

    /** Queues one POST; resolves with whether the server accepted it. */
    const post = (body: string): Promise<boolean> => {
      const accepted = posting.then(async () => {
        if (ended || !endpoint) return false;
        try {
          const answer = await transport.request({
            path: `${endpoint.pathname}${endpoint.search}`,
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: Buffer.from(body),
            signal: abort.signal,
            stripOnCrossOriginRedirect: [],
          });
          await finished(answer.body.resume());
          if (answer.statusCode < 300) return true;
          lost(`the MCP server refused a message with HTTP ${answer.statusCode}`);
        } catch (err) {
          if (ended) return false;
          // The proxy's own refusal (egress: no credential for the user) keeps its code.
          if (err instanceof TesseraError) end({ code: err.code, message: err.message });
          else lost(`the MCP server's message endpoint is unreachable (${describe(err)})`);
        }
        return false;
      });
      posting = accepted.then(() => {});
      return accepted;
    };
    const submit = (body: string): Promise<boolean> => {
      const taken = endpoint ? post(body) : new Promise<boolean>((done) => queue.push({ body, done }));
      lastSent = taken;
      return taken;
    };

    const endpointTimer = setTimeout(
      () =>
        end({
          code: 'TESSERA_UPSTREAM_TIMEOUT',
          message: `the MCP server sent no endpoint event within ${endpointTimeoutMs} ms`,
        }),
      endpointTimeoutMs,
    );

    const onEvent = (event: string, data: string) => {
      if (event === 'endpoint') {
        if (endpoint) return;
        try {
          endpoint = resolveEndpoint(data, url);
        } catch (err) {
          return lost((err as Error).message);
        }
        clearTimeout(endpointTimer);
        for (const waiting of queue.splice(0)) void post(waiting.body).then(waiting.done);
        return;
      }
      if (event !== 'message') return;
      let value: unknown;
      try {
        value = JSON.parse(data);
      } catch {
        log('warn', 'MCP server sent an SSE message that is not JSON; dropped', { ...context });
        return;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        log('warn', 'MCP server sent an SSE message that is not a JSON object; dropped', { ...context });
        return;
      }
      // Re-serialised: the data may span several lines, and the session writes it as one SSE data field.
      handlers.onMessage(value as Record<string, unknown>, JSON.stringify(value));
    };

    void (async () => {
      try {
        const answer = await transport.request({
          path: `${url.pathname}${url.search}`,
          method: 'GET',
          headers: { accept: 'text/event-stream', 'cache-control': 'no-cache' },
          body: undefined,
          signal: abort.signal,
          stripOnCrossOriginRedirect: [],
        });
        const type = answer.headers['content-type'];
        if (answer.statusCode !== 200 || typeof type !== 'string' || !type.startsWith('text/event-stream')) {
          answer.body.resume();
          return lost(
            `the MCP server answered the SSE GET with HTTP ${answer.statusCode} ${String(type ?? '')}`,
          );
        }
        log('info', 'MCP server SSE connection opened', { ...context });
        for await (const e of sseEvents(answer.body)) {
          onEvent(e.event, e.data);
          if (ended) break;
        }
        lost('the MCP server closed the SSE stream');
      } catch (err) {
        if (ended) return;
        if (err instanceof TesseraError) return end({ code: err.code, message: err.message });
        lost(`the MCP server's SSE stream failed (${describe(err)})`);
      }
    })();

    return {
      send(message) {
        if (ended || closing) return false;
        void submit(JSON.stringify(message));
        return true;
      },
      deliver(message) {
        if (ended || closing) return Promise.resolve(false);
        return submit(JSON.stringify(message));
      },
      close() {
        if (ended || closing) return exit;
        requested = true;
        closing = true;
        void drained(lastSent, closeDrainMs).then(() =>
          end({ code: 'TESSERA_UPSTREAM_UNAVAILABLE', message: 'the connection was closed' }),
        );
        return exit;
      },
      exit,
    };
  };

  return Object.assign(open, { close: async () => pool?.close() });
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  return typeof e.code === 'string' ? e.code : String(e.message ?? err);
}
