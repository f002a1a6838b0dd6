/**
 * The control plane's error catalogue. Every error it reports on purpose has a stable code and the
 * HTTP status it answers with; the admin API serialises them as `{ error: code, message }`.
 * A retired code is never reused.
 *
 * @module
 */
const catalogue = {
  TESSERA_INVALID_ARGUMENT: 400,
  TESSERA_UNAUTHENTICATED: 401,
  TESSERA_PERMISSION_DENIED: 403,
  TESSERA_NOT_FOUND: 404,
  TESSERA_CONFLICT: 409,
  /** Too many failed attempts (password checks); try again after a while. */
  TESSERA_RATE_LIMITED: 429,
  TESSERA_UNAVAILABLE: 503,
  TESSERA_CONFIG_INVALID: 500,
  /** A sealed secret could not be opened: wrong key, wrong context, or tampered bytes. */
  TESSERA_SECRET_UNREADABLE: 500,
  /** An MCP server's or its authorization server's answer was refused (SSRF guard, bad metadata, bad token response). */
  TESSERA_UPSTREAM_OAUTH: 502,
} as const;

export type TesseraErrorCode = keyof typeof catalogue;

const brand = Symbol.for('tessera.control-plane.error');

/**
 * Base of every error the control plane raises on purpose.
 *
 * @example
 * throw new TesseraError('TESSERA_NOT_FOUND', 'server "github" does not exist');
 */
export class TesseraError extends Error {
  readonly code: TesseraErrorCode;
  readonly [brand] = true;

  constructor(code: TesseraErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  get httpStatus(): number {
    return catalogue[this.code];
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[brand] === true;
  }
}
