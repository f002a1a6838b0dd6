/**
 * The contract between the proxy's inbound server and an upstream kind (HTTP sidecar, stdio).
 * The server has already authenticated the caller, applied policy and parsed the body; an upstream
 * only moves the exchange to the MCP server and the answer back, streaming it.
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { TesseraErrorCode } from '../errors.ts';
import type { ResponseWriter } from '../http1/outbound-response.ts';
import type { JsonRpcMessage } from '../server/jsonrpc.ts';
import type { ProtocolEra } from '../server/protocol-era.ts';

/** One client HTTP request on the MCP endpoint, after authentication and policy. */
export interface Exchange {
  httpMethod: 'POST' | 'GET' | 'DELETE';
  /** Request headers, lower-case names, with `authorization` already removed. */
  headers: IncomingHttpHeaders;
  /** Headers the proxy itself adds upstream (egress credentials); never the client's. */
  upstreamHeaders?: Record<string, string>;
  /** The raw body of a POST. */
  body: Buffer | undefined;
  /** The parsed body of a POST. */
  message: JsonRpcMessage | undefined;
  /** The wire era: legacy requests may belong to a session; modern ones are stateless. */
  era: ProtocolEra;
  /** The `Mcp-Session-Id` header of a legacy request, if any. */
  sessionId: string | undefined;
  /** The authenticated principal's subject (`sub`); sessions are bound to it. */
  principal: string;
  /** The principal's user name (the `email` claim, else `sub`): whose upstream credential to use. */
  user: string;
  /** Aborted when the client goes away before the response ends. */
  signal: AbortSignal;
}

/** What the audit needs to know about a forwarded exchange. */
export interface ForwardResult {
  /** The HTTP status sent to the client. */
  status: number;
  /** The JSON-RPC error code in the response, 0 when none was seen. */
  errorCode: number;
  /** Bytes of response body sent to the client. */
  responseBytes: number;
  /** The session the exchange belonged to (new for an initialize). */
  sessionId: string | undefined;
  /** A short reason when the exchange failed in the proxy or the upstream. */
  reason: string;
  /** The catalogue code when the proxy itself failed the exchange (unreachable, timeout, exit…). */
  failure?: TesseraErrorCode;
}

/** An upstream kind. */
export interface Upstream {
  /**
   * Forwards one exchange and writes the complete response to `res`, streaming it.
   * Never rejects: failures are answered to the client and reported in the result.
   */
  forward(exchange: Exchange, res: ResponseWriter): Promise<ForwardResult>;
  /** Stops accepting work, ends sessions gracefully and releases resources. */
  close(): Promise<void>;
}
