/**
 * The few complete HTTP answers the stdio upstream writes itself: a JSON body, an empty status, and a
 * catalogued proxy error. Each returns what the audit needs, so no caller computes byte counts twice.
 *
 * @module
 */

import { TesseraError, type TesseraErrorCode } from '../errors.ts';
import type { ResponseWriter } from '../http1/outbound-response.ts';
import { errorBody, type JsonRpcId } from '../server/jsonrpc.ts';
import type { ForwardResult } from './upstream.ts';

/** The status reported for an exchange whose client left before any answer was sent (nginx's convention). */
export const CLIENT_CLOSED_STATUS = 499;

/**
 * What an exchange comes to when its client left before anything was written or sent for it: nothing
 * is answered, and the audit records `CLIENT_CLOSED_STATUS`.
 */
export function clientGone(sessionId: string | undefined): ForwardResult {
  return {
    status: CLIENT_CLOSED_STATUS,
    errorCode: 0,
    responseBytes: 0,
    sessionId,
    reason: 'client disconnected',
  };
}

/**
 * The one message for a session that is unknown, ended or another principal's, so the answers cannot be
 * told apart.
 */
export const UNKNOWN_SESSION = 'unknown or ended session; initialize a new one';

/**
 * Writes a complete `application/json` response and returns the body's byte length.
 *
 * @example
 * const bytes = replyJson(res, 200, line, { 'mcp-session-id': id });
 */
export function replyJson(
  res: ResponseWriter,
  status: number,
  body: string,
  headers?: Record<string, string>,
): number {
  if (res.headersSent || res.destroyed) return 0;
  const bytes = Buffer.byteLength(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': String(bytes) });
  res.end(body);
  return bytes;
}

/**
 * Writes a complete response without a body (202, 204).
 *
 * @example
 * replyEmpty(res, 202);
 */
export function replyEmpty(res: ResponseWriter, status: number): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status);
  res.end();
}

/**
 * Answers with a catalogued proxy error: the code's HTTP status and a JSON-RPC error body.
 *
 * @example
 * return replyError(res, 'TESSERA_SESSION_NOT_FOUND', message.id, 'unknown or ended session', undefined);
 */
export function replyError(
  res: ResponseWriter,
  code: TesseraErrorCode,
  id: JsonRpcId | undefined,
  message: string,
  sessionId: string | undefined,
  data?: unknown,
): ForwardResult {
  const err = new TesseraError(code, message);
  const responseBytes = replyJson(res, err.httpStatus, errorBody(id, err.rpcCode, message, data));
  return {
    status: err.httpStatus,
    errorCode: err.rpcCode,
    responseBytes,
    sessionId,
    reason: message,
    failure: code,
  };
}
