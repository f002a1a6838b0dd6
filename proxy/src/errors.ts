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
  /** MCP 2026-07-28: the request metadata headers disagree with the body, or are missing or malformed. */
  HeaderMismatch: -32020,
  /** The caller is authenticated but no grant lets it use this server. */
  AccessDenied: -31003,
  /** The upstream MCP server failed, exited or timed out. */
  UpstreamFailure: -31004,
  /** The proxy has no usable configuration yet. */
  NotReady: -31005,
  /** Egress: the control plane could not provide the upstream credential; the proxy fails closed. */
  CredentialUnavailable: -31009,
  /**
   * Egress: the user must first connect an account at a URL (MCP's URLElicitationRequiredError of
   * 2025-11-25; the URL is in `error.data.elicitations[0].url`).
   */
  UrlElicitationRequired: -32042,
  /** The caller exceeded a rate limit; HTTP `Retry-After` says when to try again. */
  RateLimited: -31006,
  /** A filter webhook denied the request or the response. */
  FilterDenied: -31007,
  /** A filter webhook failed (timeout, error status, malformed or forbidden answer): fail closed. */
  FilterFailed: -31008,
  /** MCP 2026-07-28 UnsupportedProtocolVersionError: `data` has `supported` and `requested`. */
  UnsupportedProtocolVersion: -32022,
  /** MCP 2026-07-28 MissingRequiredClientCapabilityError: `data.requiredCapabilities`. */
  MissingRequiredClientCapability: -32021,
} as const;
export type JsonRpcCode = (typeof JsonRpcCode)[keyof typeof JsonRpcCode];

const catalogue = {
  TESSERA_BAD_REQUEST: { status: 400, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_PARSE_ERROR: { status: 400, rpc: JsonRpcCode.ParseError },
  TESSERA_UNSUPPORTED_MEDIA_TYPE: { status: 415, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_NOT_ACCEPTABLE: { status: 406, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_PAYLOAD_TOO_LARGE: { status: 413, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_METHOD_NOT_ALLOWED: { status: 405, rpc: JsonRpcCode.InvalidRequest },
  /** MCP 2026-07-28: a method the server does not have (or that the revision removed) is 404 on HTTP. */
  TESSERA_METHOD_NOT_FOUND: { status: 404, rpc: JsonRpcCode.MethodNotFound },
  TESSERA_UNSUPPORTED_PROTOCOL_VERSION: { status: 400, rpc: JsonRpcCode.UnsupportedProtocolVersion },
  TESSERA_MISSING_CLIENT_CAPABILITY: { status: 400, rpc: JsonRpcCode.MissingRequiredClientCapability },
  TESSERA_UNAUTHENTICATED: { status: 401, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_FORBIDDEN: { status: 403, rpc: JsonRpcCode.AccessDenied },
  TESSERA_INSUFFICIENT_SCOPE: { status: 403, rpc: JsonRpcCode.AccessDenied },
  TESSERA_SESSION_NOT_FOUND: { status: 404, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_SESSION_REQUIRED: { status: 400, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_STREAM_CONFLICT: { status: 409, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_TOO_MANY_SESSIONS: { status: 503, rpc: JsonRpcCode.UpstreamFailure },
  TESSERA_TOO_MANY_PENDING: { status: 503, rpc: JsonRpcCode.UpstreamFailure },
  TESSERA_UPSTREAM_UNAVAILABLE: { status: 502, rpc: JsonRpcCode.UpstreamFailure },
  TESSERA_UPSTREAM_TIMEOUT: { status: 504, rpc: JsonRpcCode.UpstreamFailure },
  TESSERA_UPSTREAM_EXITED: { status: 502, rpc: JsonRpcCode.UpstreamFailure },
  TESSERA_NOT_READY: { status: 503, rpc: JsonRpcCode.NotReady },
  TESSERA_CONFIG_INVALID: { status: 500, rpc: JsonRpcCode.InternalError },
  TESSERA_NOT_FOUND: { status: 404, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_ORIGIN_FORBIDDEN: { status: 403, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_HOST_FORBIDDEN: { status: 403, rpc: JsonRpcCode.InvalidRequest },
  TESSERA_HEADER_MISMATCH: { status: 400, rpc: JsonRpcCode.HeaderMismatch },
  TESSERA_INVALID_PARAMS: { status: 400, rpc: JsonRpcCode.InvalidParams },
  TESSERA_EGRESS_REFUSED: { status: 502, rpc: JsonRpcCode.UpstreamFailure },
  TESSERA_CREDENTIAL_UNAVAILABLE: { status: 503, rpc: JsonRpcCode.CredentialUnavailable },
  // 200: a JSON-RPC error that MCP clients must read (they do not parse the body of a 4xx/5xx).
  TESSERA_CONNECT_REQUIRED: { status: 200, rpc: JsonRpcCode.UrlElicitationRequired },
  TESSERA_RATE_LIMITED: { status: 429, rpc: JsonRpcCode.RateLimited },
  /** The principal holds as many GET and listen streams as a proxy allows it (`open-streams.ts`). */
  TESSERA_TOO_MANY_STREAMS: { status: 429, rpc: JsonRpcCode.RateLimited },
  TESSERA_FILTER_DENIED: { status: 403, rpc: JsonRpcCode.FilterDenied },
  TESSERA_FILTER_FAILED: { status: 502, rpc: JsonRpcCode.FilterFailed },
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
  /** Structured detail for the JSON-RPC error's `data` member (e.g. the supported protocol versions). */
  readonly data: unknown;
  readonly [brand] = true;

  constructor(code: TesseraErrorCode, message: string, options?: { cause?: unknown; data?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.data = options?.data;
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
