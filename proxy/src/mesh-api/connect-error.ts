/**
 * Errors of calls to the control plane's mesh API, in the Connect protocol's terms
 * (https://connectrpc.com/docs/protocol/#error-codes): a code from a closed set and the message the
 * server sent. The callers decide by code (retry on `unavailable`, drop a batch on
 * `invalid_argument`, report `permission_denied` as a refusal), so every failure — an error the
 * server wrote, an HTTP status from an intermediary, a refused connection, a reset stream, a local
 * deadline — becomes one of these.
 *
 * @module
 */

/** The Connect error codes, as they are spelled on the wire. */
export const connectCodes = [
  'canceled',
  'unknown',
  'invalid_argument',
  'deadline_exceeded',
  'not_found',
  'already_exists',
  'permission_denied',
  'resource_exhausted',
  'failed_precondition',
  'aborted',
  'out_of_range',
  'unimplemented',
  'internal',
  'unavailable',
  'data_loss',
  'unauthenticated',
] as const;

export type ConnectCode = (typeof connectCodes)[number];

const known: ReadonlySet<string> = new Set(connectCodes);

/** The numeric (gRPC) value of a code, as carried in `google.rpc.Status`-like fields. */
export function numericCode(code: ConnectCode): number {
  return connectCodes.indexOf(code) + 1;
}

export class MeshCallError extends Error {
  override name = 'MeshCallError';
  readonly code: ConnectCode;
  /** The message without the code prefix. */
  readonly rawMessage: string;

  constructor(code: ConnectCode, message: string, options?: ErrorOptions) {
    super(message ? `[${code}] ${message}` : `[${code}]`, options);
    this.code = code;
    this.rawMessage = message;
  }

  /** Anything thrown by a call, as a MeshCallError (an unexpected error is `unknown`). */
  static from(err: unknown): MeshCallError {
    if (err instanceof MeshCallError) return err;
    return new MeshCallError('unknown', err instanceof Error ? err.message : String(err), { cause: err });
  }
}

/** The code for a response whose HTTP status says it failed (the protocol's HTTP-to-code table). */
export function codeFromHttpStatus(status: number): ConnectCode {
  switch (status) {
    case 400:
      return 'internal';
    case 401:
      return 'unauthenticated';
    case 403:
      return 'permission_denied';
    case 404:
      return 'unimplemented';
    case 429:
    case 502:
    case 503:
    case 504:
      return 'unavailable';
    default:
      return 'unknown';
  }
}

/**
 * The error a Connect error body describes: `{"code": "...", "message": "..."}`. A body that is not
 * such an object (an intermediary's HTML page, say) gives `fallback`'s code and says what came back.
 */
export function errorFromJson(text: string, fallback: ConnectCode): MeshCallError {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // not JSON: reported below
  }
  return (
    errorFromObject(value, fallback) ??
    new MeshCallError(fallback, `the response is not a Connect error: ${preview(text)}`)
  );
}

/** The error a parsed Connect error object describes; undefined when `value` is not an object. */
export function errorFromObject(value: unknown, fallback: ConnectCode): MeshCallError | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { code, message } = value as { code?: unknown; message?: unknown };
  return new MeshCallError(
    typeof code === 'string' && known.has(code) ? (code as ConnectCode) : fallback,
    typeof message === 'string' ? message : '',
  );
}

function preview(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat || '(empty)';
}
