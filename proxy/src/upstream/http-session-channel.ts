/**
 * A message channel over one legacy (2025-11-25) Streamable HTTP session: every message the proxy sends
 * is a POST carrying the session's `Mcp-Session-Id` (minted by the server's answer to `initialize`) and
 * the negotiated `MCP-Protocol-Version`; every JSON-RPC message in an answer, whether one JSON object or
 * an event stream, comes back as a channel message. It lets the stateless pool serve 2026-07-28 clients
 * with a Streamable HTTP server that only speaks the session-bound revision, as it does stdio ones.
 *
 * The session ends when the server answers `404` (it forgot the session), a POST fails, or the channel
 * is closed (`DELETE`, best effort). Server messages outside an answer (the GET stream) are not read.
 *
 * @module
 */
import type { TesseraErrorCode } from '../errors.ts';
import type { ChannelEnd, OpenChannel } from './message-channel.ts';
import { createSseEventParser } from './sse-event-parser.ts';
import type { UpstreamTransport } from './upstream-transport.ts';

export interface HttpSessionChannelOptions {
  transport: UpstreamTransport;
  /** Path and query of the MCP endpoint on the transport's origin. */
  path: string;
}

const failure = (code: TesseraErrorCode, message: string): ChannelEnd => ({ code, message });

export function httpSessionChannels(options: HttpSessionChannelOptions): OpenChannel {
  return (handlers) => {
    let sessionId: string | undefined;
    let protocolVersion: string | undefined;
    let ended = false;
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
      exited();
    };

    /** Hands every JSON-RPC message of one line of JSON to the session. */
    const deliver = (text: string) => {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        return end(failure('TESSERA_UPSTREAM_UNAVAILABLE', 'the MCP server answered with malformed JSON'));
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
      const message = value as Record<string, unknown>;
      const result = message.result as { protocolVersion?: unknown } | undefined;
      if (typeof result?.protocolVersion === 'string' && protocolVersion === undefined) {
        protocolVersion = result.protocolVersion;
      }
      handlers.onMessage(message, JSON.stringify(message));
    };

    const post = async (message: Record<string, unknown>) => {
      const headers: Record<string, string> = {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      };
      if (sessionId !== undefined) headers['mcp-session-id'] = sessionId;
      if (protocolVersion !== undefined) headers['mcp-protocol-version'] = protocolVersion;
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
        return end(failure('TESSERA_UPSTREAM_UNAVAILABLE', `the MCP server is unreachable: ${String(err)}`));
      }
      const minted = response.headers['mcp-session-id'];
      if (message.method === 'initialize' && typeof minted === 'string') sessionId = minted;
      if (response.statusCode === 404 && sessionId !== undefined) {
        response.body.resume();
        return end(failure('TESSERA_UPSTREAM_EXITED', 'the MCP server ended the session'));
      }
      const type = String(response.headers['content-type'] ?? '');
      try {
        if (type.startsWith('text/event-stream')) {
          const parser = createSseEventParser();
          for await (const chunk of response.body) {
            for (const event of parser.push((chunk as Buffer).toString('utf8'))) {
              if (event.event === 'message' && event.data !== '') deliver(event.data);
            }
          }
        } else if (type.startsWith('application/json')) {
          const chunks: Buffer[] = [];
          for await (const chunk of response.body) chunks.push(chunk as Buffer);
          deliver(Buffer.concat(chunks).toString('utf8'));
        } else {
          // 202 for a notification or a response, or an error without a JSON-RPC body.
          response.body.resume();
          if (response.statusCode >= 400 && 'id' in message && 'method' in message) {
            const text = `the MCP server answered ${response.statusCode} to ${String(message.method)}`;
            const answer = { jsonrpc: '2.0', id: message.id, error: { code: -32603, message: text } };
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
        if (ended) return false;
        void post(message as Record<string, unknown>);
        return true;
      },
      async close() {
        if (ended) return;
        const id = sessionId;
        end(failure('TESSERA_UPSTREAM_EXITED', 'the session was closed'));
        if (id === undefined) return;
        // Best effort: the server forgets the session; nobody waits for its answer.
        try {
          const r = await options.transport.request({
            method: 'DELETE',
            path: options.path,
            headers: {
              'mcp-session-id': id,
              ...(protocolVersion && { 'mcp-protocol-version': protocolVersion }),
            },
            body: undefined,
            signal: AbortSignal.timeout(5_000),
            stripOnCrossOriginRedirect: [],
          });
          r.body.resume();
        } catch {
          // The server may already be gone.
        }
      },
      exit,
    };
  };
}
