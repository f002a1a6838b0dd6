/**
 * A message channel over one legacy (2025-11-25) Streamable HTTP session: every message the proxy sends
 * is a POST carrying the session's `Mcp-Session-Id` (minted by the server's answer to `initialize`) and
 * the negotiated `MCP-Protocol-Version`; every JSON-RPC message in an answer, whether one JSON object or
 * an event stream, comes back as a channel message. The session's GET stream is read too
 * (`http-session-stream.ts`), so what the server sends outside answers (list changes, `ping`,
 * `roots/list`) comes back the same way. It is opened as soon as `initialize` has its result, and
 * `notifications/initialized` waits (up to `STREAM_OPEN_WAIT_MS`) until the server has answered that
 * GET: a server without an event store drops what it sends while no stream is open, and many send
 * something the moment they hear `initialized`. It lets
 * the stateless pool serve 2026-07-28 clients with a Streamable HTTP server that only speaks the
 * session-bound revision, as it does stdio ones.
 *
 * The session ends when the server answers `404` to a POST or the GET (it forgot the session), a POST
 * fails, or the channel is closed. A close first lets the notifications and responses already sent
 * finish their POSTs (for at most `closeDrainMs`: a cancellation the proxy sent just before must reach
 * the server), then aborts the GET, its reconnection wait and the requests still in flight, and sends
 * `DELETE` (best effort); `exit` waits for them.
 *
 * A forgotten session and the requests on it: a `404` to a POST that carried the session id means the
 * server did not take the message in, so the request it carried never ran. The channel ends naming
 * that one request `undelivered`, and the caller may send it again on a fresh session. Nothing else is
 * ever reported so: not a request whose POST failed or whose answer was cut short, nor the other
 * requests still in flight when the channel ends (their POSTs are aborted), because the server may
 * have run them; they fail with the channel's end, like on any channel.
 *
 * An answer stream cut short: a server may close a POST's event stream before the answer once it has
 * sent an event id (2025-11-25 "SSE polling"), and a connection may simply break. The channel resumes
 * that stream with `Last-Event-ID` until the answer comes; without an event id, or when resuming fails,
 * that one request fails at once (`onFailed`) and the session carries on.
 *
 * @module
 */
import { TesseraError, type TesseraErrorCode } from '../errors.ts';
import type { JsonRpcId } from '../server/jsonrpc.ts';
import { CLOSE_DRAIN_MS, drained } from './close-drain.ts';
import { type ReconnectPolicy, readSessionStream, type SessionStreamOptions } from './http-session-stream.ts';
import type { ChannelEnd, OpenChannel } from './message-channel.ts';
import { createSseEventParser, sseEvents } from './sse-event-parser.ts';
import type { StdioLog } from './stdio-child.ts';
import type { UpstreamTransport } from './upstream-transport.ts';

export interface HttpSessionChannelOptions {
  transport: UpstreamTransport;
  /** Path and query of the MCP endpoint on the transport's origin. */
  path: string;
  log: StdioLog;
  /** How the GET stream is reopened; default `DEFAULT_RECONNECT`. */
  reconnect?: ReconnectPolicy;
  /** How long `notifications/initialized` waits for the GET to be answered; default `STREAM_OPEN_WAIT_MS`. */
  streamOpenWaitMs?: number;
  /** How long a close waits for the notifications and responses already sent; default `CLOSE_DRAIN_MS`. */
  closeDrainMs?: number;
}

const failure = (code: TesseraErrorCode, message: string): ChannelEnd => ({ code, message });

/**
 * How long `notifications/initialized` waits, by default, for the server to answer the session's first
 * GET. A server that holds the GET's headers until its first event must not hold up the session long.
 */
export const STREAM_OPEN_WAIT_MS = 2_000;

/**
 * Returns the opener of channels over sessions with one server.
 *
 * @example
 * const open = httpSessionChannels({ transport, path: '/mcp', log });
 * const channel = open({ onMessage, onEnd }, { stateless: id });
 */
export function httpSessionChannels(options: HttpSessionChannelOptions): OpenChannel {
  return (handlers, context) => {
    let sessionId: string | undefined;
    let protocolVersion: string | undefined;
    let ended = false;
    let closing = false;
    /** The POSTs of notifications and responses under way, which a close lets finish. */
    const notices = new Set<Promise<void>>();
    /** The GET stream's reader, once `initialize` has its result. */
    let listening: Promise<void> | undefined;
    /** Settles when the server has answered the first GET, or the reader has stopped. */
    let streamAnswered: Promise<void> | undefined;
    const abort = new AbortController();
    let exited!: () => void;
    const exit = new Promise<void>((resolve) => {
      exited = resolve;
    });
    const end = (why: ChannelEnd) => {
      if (ended) return;
      ended = true;
      abort.abort();
      handlers.onEnd(why);
      // Released only once the GET and its reconnection wait have let go of their socket and timer.
      void (listening ?? Promise.resolve()).then(exited);
    };
    const forgotten = (undelivered: JsonRpcId[]): ChannelEnd => ({
      ...failure('TESSERA_UPSTREAM_EXITED', 'the MCP server ended the session'),
      undelivered,
    });

    /**
     * Hands every JSON-RPC message of one line of JSON to the session. `request`: the id of the request
     * the POST carried, when this is its error answer: an error with a null id is that request's (a
     * server that refuses a POST before reading it, like the SDK's `400` to a request without a session,
     * still answers that one request, and it must not wait for its timeout).
     */
    const deliver = (text: string, request?: JsonRpcId): Record<string, unknown> | undefined => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        end(failure('TESSERA_UPSTREAM_UNAVAILABLE', 'the MCP server answered with malformed JSON'));
        return undefined;
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
      const message = value as Record<string, unknown>;
      if (request !== undefined && message.id === null && 'error' in message) message.id = request;
      const result = message.result as { protocolVersion?: unknown } | undefined;
      if (typeof result?.protocolVersion === 'string' && protocolVersion === undefined) {
        // `initialize`'s result: the session exists, so its GET stream can open before `initialized`.
        protocolVersion = result.protocolVersion;
        listen();
      }
      handlers.onMessage(message, JSON.stringify(message));
      return message;
    };

    /** The session's headers, as every request after `initialize` carries them. */
    const sessionHeaders = (id: string | undefined): Record<string, string> => {
      const headers: Record<string, string> = {};
      if (id !== undefined) headers['mcp-session-id'] = id;
      if (protocolVersion !== undefined) headers['mcp-protocol-version'] = protocolVersion;
      return headers;
    };

    /** A GET stream of this session, ended with the channel; a `404` to it ends the channel. */
    const readStream = (
      o: Pick<SessionStreamOptions, 'headers' | 'onMessage' | 'context'> & Partial<SessionStreamOptions>,
    ) =>
      readSessionStream({
        transport: options.transport,
        path: options.path,
        signal: abort.signal,
        onForgotten: () => end(forgotten([])),
        log: options.log,
        reconnect: options.reconnect,
        ...o,
      });

    const listen = () => {
      if (listening !== undefined || ended) return;
      let settle!: () => void;
      streamAnswered = new Promise<void>((resolve) => {
        settle = resolve;
      });
      listening = readStream({
        headers: sessionHeaders(sessionId),
        onMessage: deliver,
        context,
        onFirstAnswer: () => settle(),
      }).finally(settle);
    };

    /** Set by `notifications/initialized`: every later message is posted once this has settled. */
    let gate: Promise<void> | undefined;

    /** Until the server has answered the GET, or `STREAM_OPEN_WAIT_MS`, whichever comes first. */
    const streamOpened = async () => {
      if (streamAnswered === undefined) return;
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(resolve, options.streamOpenWaitMs ?? STREAM_OPEN_WAIT_MS, 'late');
      });
      const outcome = await Promise.race([streamAnswered, late]);
      clearTimeout(timer);
      if (outcome === 'late') {
        options.log(
          'debug',
          'the MCP server has not answered the GET stream yet; initializing anyway',
          context,
        );
      }
    };

    /**
     * Reads a POST's event stream. When it ends or fails before the request's answer, the answer is
     * fetched by resuming the stream (GET with `Last-Event-ID`) if the server gave it an event id, and
     * otherwise, or if that fails too, the request fails now rather than at its timeout.
     */
    const readAnswer = async (
      body: AsyncIterable<unknown>,
      method: unknown,
      request: JsonRpcId | undefined,
      session: string | undefined,
    ) => {
      let answered = false;
      const take = (data: string) => {
        const m = deliver(data);
        if (m !== undefined && m.id === request && ('result' in m || 'error' in m)) answered = true;
      };
      const parser = createSseEventParser();
      let lastEventId: string | undefined;
      let why = 'ended before its result';
      try {
        for await (const event of sseEvents(body, parser)) {
          if (event.id !== undefined) lastEventId = event.id;
          if (event.event === 'message' && event.data !== '') take(event.data);
        }
      } catch (err) {
        why = `failed before its result (${String(err)})`;
      }
      if (request === undefined || answered || ended) return;
      if (lastEventId !== undefined) {
        await readStream({
          headers: sessionHeaders(session),
          onMessage: take,
          context: { ...context, request },
          name: 'resumed answer stream',
          lastEventId,
          retryMs: parser.retryMs,
          until: () => answered,
        });
        if (answered || ended) return;
        why = `${why}, and resuming it with Last-Event-ID did not bring it`;
      }
      handlers.onFailed(request, {
        code: 'TESSERA_UPSTREAM_UNAVAILABLE',
        message: `the MCP server's answer to ${String(method)} ${why}`,
      });
    };

    const post = async (message: Record<string, unknown>) => {
      const request = 'method' in message && 'id' in message ? (message.id as JsonRpcId) : undefined;
      // A request still waiting for `initialized` when the channel closes has already failed.
      if (ended || (closing && request !== undefined)) return;
      // The session the message goes to: a 404 is about this one, whatever the answer mints.
      const sentTo = sessionId;
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...sessionHeaders(sentTo),
      };
      let response: Awaited<ReturnType<UpstreamTransport['request']>>;
      try {
        response = await options.transport.request({
          method: 'POST',
          path: options.path,
          headers,
          body: Buffer.from(JSON.stringify(message)),
          signal: abort.signal,
          stripOnCrossOriginRedirect: [],
        });
      } catch (err) {
        // The proxy's own refusal (egress: no credential for the user) keeps its code.
        if (err instanceof TesseraError) return end(failure(err.code, err.message));
        return end(failure('TESSERA_UPSTREAM_UNAVAILABLE', `the MCP server is unreachable: ${String(err)}`));
      }
      const minted = response.headers['mcp-session-id'];
      if (message.method === 'initialize' && typeof minted === 'string') sessionId = minted;
      if (response.statusCode === 404 && sentTo !== undefined) {
        response.body.resume();
        return end(forgotten(request === undefined ? [] : [request]));
      }
      if (
        message.method === 'notifications/initialized' &&
        response.statusCode >= 200 &&
        response.statusCode < 300 &&
        !ended
      )
        listen();
      const type = String(response.headers['content-type'] ?? '');
      if (type.startsWith('text/event-stream'))
        return readAnswer(response.body, message.method, request, sentTo ?? sessionId);
      try {
        if (type.startsWith('application/json')) {
          const chunks: Buffer[] = [];
          for await (const chunk of response.body) chunks.push(chunk as Buffer);
          deliver(Buffer.concat(chunks).toString('utf8'), response.statusCode >= 400 ? request : undefined);
        } else {
          // 202 for a notification or a response, or an error without a JSON-RPC body.
          response.body.resume();
          if (response.statusCode >= 400 && request !== undefined) {
            const text = `the MCP server answered ${response.statusCode} to ${String(message.method)}`;
            const answer = { jsonrpc: '2.0', id: request, error: { code: -32603, message: text } };
            handlers.onMessage(answer, JSON.stringify(answer));
          }
        }
      } catch (err) {
        if (!ended)
          end(failure('TESSERA_UPSTREAM_UNAVAILABLE', `the MCP server's answer failed: ${String(err)}`));
      }
    };

    return {
      send(message) {
        if (ended || closing) return false;
        const m = message as Record<string, unknown>;
        // `initialized` waits for the GET stream, and what is sent after it goes out after it.
        if (m.method === 'notifications/initialized') gate = streamOpened();
        const posting = gate === undefined ? post(m) : gate.then(() => post(m));
        if (!('method' in m && 'id' in m)) {
          const notice = posting.catch(() => {});
          notices.add(notice);
          void notice.then(() => notices.delete(notice));
        }
        return true;
      },
      async close() {
        if (ended || closing) return exit;
        closing = true;
        await drained(Promise.all(notices), options.closeDrainMs ?? CLOSE_DRAIN_MS);
        // The server may have ended the session meanwhile (a 404): then there is nothing to delete.
        if (ended) return exit;
        const id = sessionId;
        end(failure('TESSERA_UPSTREAM_EXITED', 'the session was closed'));
        if (id === undefined) return exit;
        // Best effort: the server forgets the session; nobody waits for its answer.
        try {
          const r = await options.transport.request({
            method: 'DELETE',
            path: options.path,
            headers: sessionHeaders(id),
            body: undefined,
            signal: AbortSignal.timeout(5_000),
            stripOnCrossOriginRedirect: [],
          });
          r.body.resume();
        } catch {
          // The server may already be gone.
        }
        return exit;
      },
      exit,
    };
  };
}
