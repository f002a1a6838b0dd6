/**
 * How an upstream answers a failure of its own (unreachable, refused, no credential…) to the client:
 * the catalogued JSON-RPC error with its HTTP status, echoing the request id, unless the client has
 * already gone or the response has already started.
 *
 * @module
 */

import type { TesseraError } from '../errors.ts';
import type { ResponseWriter } from '../http1/outbound-response.ts';
import { errorBody } from '../server/jsonrpc.ts';
import type { Exchange, ForwardResult } from './upstream.ts';

export function answerError(
  res: ResponseWriter,
  exchange: Exchange,
  error: TesseraError,
  data?: unknown,
): ForwardResult {
  if (exchange.signal.aborted || res.headersSent) {
    return {
      status: 499,
      errorCode: 0,
      responseBytes: 0,
      sessionId: exchange.sessionId,
      reason: 'client disconnected',
    };
  }
  const id = exchange.message?.kind === 'request' ? exchange.message.id : undefined;
  const body = errorBody(id, error.rpcCode, error.message, data);
  res.writeHead(error.httpStatus, { 'content-type': 'application/json' }).end(body);
  return {
    status: error.httpStatus,
    errorCode: error.rpcCode,
    responseBytes: Buffer.byteLength(body),
    sessionId: exchange.sessionId,
    reason: error.message,
    failure: error.code,
  };
}
