/**
 * The proxy's error catalogue: every error the proxy itself reports to a client or an operator has a
 * stable code here, with the HTTP status and JSON-RPC error code it maps to. A retired code is never
 * reused.
 *
 * @module
 */

/** JSON-RPC error codes the proxy emits. Tessera's own codes sit outside the reserved -32768..-32000 range. */
export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** The caller is authenticated but no grant lets it use this server. */
  AccessDenied: -31003,
  /** The upstream MCP server failed, exited or timed out. */
  UpstreamFailure: -31004,
  /** The proxy has no usable configuration yet. */
  NotReady: -31005,
} as const;
export type JsonRpcCode = (typeof JsonRpcCode)[keyof typeof JsonRpcCode];

const catalogue = {
  TESSERA_BAD_REQUEST: { status: 400, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_PARSE_ERROR: { status: 400, rpc: JsonRpcCode.ParseError },
  TESSERA_UNSUPPORTED_MEDIA_TYPE: { status: 415, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_NOT_ACCEPTABLE: { status: 406, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_PAYLOAD_TOO_LARGE: { status: 413, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_METHOD_NOT_ALLOWED: { status: 405, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_UNAUTHENTICATED: { status: 401, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_FORBIDDEN: { status: 403, rpc: JsonRpcCode.AccessDenied },
  TESSERA_INSUFFICIENT_SCOPE: { status: 403, rpc: JsonRpcCode.AccessDenied },
  TESSERA_SESSION_NOT_FOUND: { status: 404, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_SESSION_REQUIRED: { status: 400, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_STREAM_CONFLICT: { status: 409, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_TOO_MANY_SESSIONS: { status: 503, rpc: JsonRpcCode.UpstreamFailure },
  TESSERA_UPSTREAM_UNAVAILABLE: { status: 502, rpc: JsonRpcCode.UpstreamFailure },
  TESSERA_UPSTREAM_TIMEOUT: { status: 504, rpc: JsonRpcCode.UpstreamFailure },
  TESSERA_UPSTREAM_EXITED: { status: 502, rpc: JsonRpcCode.UpstreamFailure },
  TESSERA_NOT_READY: { status: 503, rpc: JsonRpcCode.NotReady },
  TESSERA_CONFIG_INVALID: { status: 500, rpc: JsonRpcCode.InternalError },
  TESSERA_NOT_FOUND: { status: 404, rpc: JsonRpcCode.InvalidRequest },
} as const;

/** Every stable error code of the proxy. */
export type TesseraErrorCode = keyof typeof catalogue;

const brand = Symbol.for('tessera.proxy.error');

/**
 * Base of every error the proxy raises on purpose. `code` is stable; `message` names what was wrong.
 *
 * @example
 * throw new TesseraError('TESSERA_SESSION_NOT_FOUND', 'unknown session "abc"');
 */
export class TesseraError extends Error {
  readonly code: TesseraErrorCode;
  readonly [brand] = true;

  constructor(code: TesseraErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /** The HTTP status this error answers with. */
  get httpStatus(): number {
    return catalogue[this.code].status;
  }

  /** The JSON-RPC error code this error answers with. */
  get rpcCode(): number {
    return catalogue[this.code].rpc;
  }

  // Duplicate copies of this module (two installs in one process) still recognise each other's errors.
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}
