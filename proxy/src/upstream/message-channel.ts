/**
 * A message channel: one live conversation with an MCP server that speaks the session-bound protocol
 * (2025-11-25 and earlier) — a stdio child process, an HTTP+SSE (2024-11-05) connection, or a session
 * the proxy opens with a Streamable HTTP server. The session and pool logic above it only sends JSON-RPC
 * messages and routes what comes back; how the bytes move is the channel's business.
 *
 * @module
 */
import type { TesseraErrorCode } from '../errors.ts';
import type { JsonRpcId } from '../server/jsonrpc.ts';

/** How a channel ended. */
export interface ChannelEnd {
  /** The catalogued error the requests still in flight are failed with. */
  code: TesseraErrorCode;
  message: string;
  /**
   * Requests the channel knows the server never received (a Streamable HTTP server that forgot the
   * session answered their POST `404`): safe to send again elsewhere. Every other request in flight may
   * have run.
   */
  undelivered?: readonly JsonRpcId[];
}

export interface ChannelHandlers {
  /** Every JSON object the server sends; `line` is its text without CR or LF, ready for an SSE `data:` field. */
  onMessage: (message: Record<string, unknown>, line: string) => void;
  /** Called once, when the channel can carry nothing more, whoever ended it. */
  onEnd: (end: ChannelEnd) => void;
  /**
   * One request will never be answered although the channel lives on (a Streamable HTTP server cut its
   * answer short and it cannot be resumed): it fails now, as it would with the channel's end, instead
   * of waiting for its timeout. The server may have run it.
   */
  onFailed: (id: JsonRpcId, failure: Omit<ChannelEnd, 'undelivered'>) => void;
}

/** An open channel. */
export interface MessageChannel {
  /** Sends one message. False when the channel can no longer carry it. */
  send(message: unknown): boolean;
  /**
   * Sends one message that has no answer (a notification) and resolves once the server has taken it:
   * true when it accepted it, false when it refused it or the channel could not carry it. Only channels
   * whose transport acknowledges messages (an HTTP POST's answer) have it; elsewhere `send` is all there is.
   */
  deliver?(message: unknown): Promise<boolean>;
  /** Ends the channel gracefully; resolves once it has ended and released its resources. */
  close(): Promise<void>;
  /** Resolves once the channel has ended and released its resources, however it ended. */
  readonly exit: Promise<void>;
}

/** Opens a channel; `context` names what it serves in log lines (a session id, a pool slot). */
export type OpenChannel = (handlers: ChannelHandlers, context: Record<string, unknown>) => MessageChannel;
