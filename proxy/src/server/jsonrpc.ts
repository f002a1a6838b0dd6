/**
 * JSON-RPC 2.0 framing for MCP: parses one message from a request body with bounded depth, and builds
 * error bodies. The hot path parses JSON itself rather than through an SDK.
 *
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { TesseraError } from '../errors.ts';
import { checkJsonStructure } from './json-structure.ts';

export type JsonRpcId = string | number;

export type JsonRpcRequest = {
  kind: 'request';
  id: JsonRpcId;
  method: string;
  params: Record<string, unknown> | undefined;
};
export type JsonRpcNotification = {
  kind: 'notification';
  method: string;
  params: Record<string, unknown> | undefined;
};
export type JsonRpcResponse = {
  kind: 'response';
  id: JsonRpcId;
  error: { code: number; message: string } | undefined;
};
export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

/** The default bound on object/array nesting of a message. */
export const DEFAULT_MAX_DEPTH = 64;

function isId(value: unknown): value is JsonRpcId {
  return typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

/**
 * The text of a request body. JSON between systems is UTF-8 (RFC 8259 §8.1); a body that is not would
 * be judged with U+FFFD where its invalid bytes are, while a server may decode them otherwise.
 *
 * @throws TesseraError `TESSERA_PARSE_ERROR` when `body` is not valid UTF-8.
 */
export function jsonText(body: Buffer): string {
  if (!isUtf8(body)) throw new TesseraError('TESSERA_PARSE_ERROR', 'the body is not valid UTF-8');
  return body.toString('utf8');
}

/**
 * Parses and classifies one JSON-RPC message.
 *
 * @throws TesseraError `TESSERA_PARSE_ERROR` for malformed JSON; `TESSERA_BAD_REQUEST` for nesting past
 *   `maxDepth`, an object whose member names repeat or differ only in case, a batch array, a
 *   non-object, a missing or wrong `jsonrpc`, a null or non-scalar `id`, or a non-string `method`.
 */
export function parseJsonRpc(
  text: string,
  maxDepth = DEFAULT_MAX_DEPTH,
): { message: JsonRpcMessage; value: Record<string, unknown> } {
  const problem = checkJsonStructure(text, maxDepth);
  if (problem?.kind === 'depth') {
    throw new TesseraError('TESSERA_BAD_REQUEST', `JSON nesting exceeds the limit of ${maxDepth} levels`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TesseraError('TESSERA_PARSE_ERROR', `malformed JSON: ${(err as Error).message}`);
  }
  // Valid JSON, but read otherwise by some servers' parsers than by the proxy's (json-structure.ts).
  if (problem) throw new TesseraError('TESSERA_BAD_REQUEST', problem.message);
  if (Array.isArray(value)) {
    throw new TesseraError(
      'TESSERA_BAD_REQUEST',
      'JSON-RPC batches are not supported (MCP 2025-06-18 removed them)',
    );
  }
  if (typeof value !== 'object' || value === null) {
    throw new TesseraError('TESSERA_BAD_REQUEST', 'a JSON-RPC message must be a JSON object');
  }
  const obj = value as Record<string, unknown>;
  if (obj.jsonrpc !== '2.0') {
    throw new TesseraError('TESSERA_BAD_REQUEST', '"jsonrpc" must be the string "2.0"');
  }
  const hasId = 'id' in obj;
  if (hasId && !isId(obj.id)) {
    throw new TesseraError('TESSERA_BAD_REQUEST', '"id" must be a string or a number (null is not allowed)');
  }
  if ('method' in obj) {
    if (typeof obj.method !== 'string' || obj.method.length === 0) {
      throw new TesseraError('TESSERA_BAD_REQUEST', '"method" must be a non-empty string');
    }
    const params = obj.params;
    if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
      throw new TesseraError('TESSERA_BAD_REQUEST', '"params" must be an object when present');
    }
    const p = params as Record<string, unknown> | undefined;
    const message: JsonRpcMessage = hasId
      ? { kind: 'request', id: obj.id as JsonRpcId, method: obj.method, params: p }
      : { kind: 'notification', method: obj.method, params: p };
    return { message, value: obj };
  }
  if (hasId && ('result' in obj || 'error' in obj)) {
    const error = obj.error as { code?: unknown; message?: unknown } | undefined;
    const e =
      error && typeof error === 'object'
        ? { code: typeof error.code === 'number' ? error.code : 0, message: String(error.message ?? '') }
        : undefined;
    return { message: { kind: 'response', id: obj.id as JsonRpcId, error: e }, value: obj };
  }
  throw new TesseraError(
    'TESSERA_BAD_REQUEST',
    'a JSON-RPC message needs "method", or "id" with "result" or "error"',
  );
}

/** The name a request targets: the tool or prompt name, or the resource URI. */
export function targetOf(message: JsonRpcMessage): string {
  if (message.kind === 'response' || !message.params) return '';
  const { name, uri } = message.params;
  if (typeof name === 'string') return name;
  if (typeof uri === 'string') return uri;
  return '';
}

/** Serialises a JSON-RPC error response. `id` is omitted when the request's id is unknown. */
export function errorBody(id: JsonRpcId | undefined, code: number, message: string, data?: unknown): string {
  const error: Record<string, unknown> = { code, message };
  if (data !== undefined) error.data = data;
  return JSON.stringify(id === undefined ? { jsonrpc: '2.0', error } : { jsonrpc: '2.0', id, error });
}

/**
 * The error code of an answer from an upstream, as the proxy records it. JSON-RPC requires an
 * integer and the audit event stores a 32-bit one (`sint32 error_code`), so a fraction, a larger
 * number or a non-number counts as -32603 (Internal error) instead of failing the audit record.
 */
export function answeredErrorCode(code: unknown): number {
  return Number.isInteger(code) && (code as number) >= -(2 ** 31) && (code as number) < 2 ** 31
    ? (code as number)
    : -32603;
}
