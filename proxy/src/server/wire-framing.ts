/**
 * The era-specific framing rules the endpoint applies after parsing a request and before any decision:
 * modern requests must carry metadata headers that agree with the body, and the legacy session
 * mechanisms (GET stream, DELETE) do not exist in the modern era.
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import { TesseraError } from '../errors.ts';
import type { JsonRpcMessage } from './jsonrpc.ts';
import { detectEra, type ProtocolEra } from './protocol-era.ts';
import { type ParamHeaderMap, validateRequestMetadata } from './request-metadata.ts';

/**
 * Returns the request's era, or throws the error to answer with:
 * - GET/DELETE naming a modern revision: 405 (2026-07-28 streamable-http §Earlier Streamable HTTP Revisions);
 * - a modern POST whose headers disagree with its body: 400 / -32020 (§Server Validation), including the
 *   `Mcp-Param-*` headers of a `tools/call` when `params` (the tool's `x-mcp-header` annotations) is known;
 * - a modern POST without the `_meta` protocol-version claim its header announces: 400 / -32602;
 * - a modern POST carrying a JSON-RPC response: 400 / -32600 (§Sending Messages).
 */
export function checkFraming(
  httpMethod: string,
  headers: IncomingHttpHeaders,
  message: JsonRpcMessage | undefined,
  params?: ParamHeaderMap,
): ProtocolEra {
  const era = detectEra(headers, message);
  if (era === 'legacy') return era;
  if (httpMethod !== 'POST' || !message) {
    throw new TesseraError(
      'TESSERA_METHOD_NOT_ALLOWED',
      `${httpMethod} is not part of protocol revision ${headers['mcp-protocol-version']}: streams and sessions were removed`,
    );
  }
  const verdict = validateRequestMetadata(headers, message, params);
  if (verdict.ok) return era;
  switch (verdict.kind) {
    case 'header_mismatch':
      throw new TesseraError('TESSERA_HEADER_MISMATCH', verdict.message);
    case 'invalid_params':
      throw new TesseraError('TESSERA_INVALID_PARAMS', verdict.message);
    case 'invalid_message':
      throw new TesseraError('TESSERA_BAD_REQUEST', verdict.message);
  }
}
