/**
 * Validation of the request metadata headers of a modern (2026-07-28) Streamable HTTP request against
 * its JSON-RPC body. The spec mirrors body fields into headers so that intermediaries can route on them;
 * a proxy that authorises on one source while the server executes the other is a confused deputy, so
 * every disagreement is refused (2026-07-28 transports/streamable-http §Server Validation).
 *
 * Pure: headers and the parsed message in, a verdict out.
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { JsonRpcMessage } from './jsonrpc.ts';
import { CLIENT_CAPABILITIES_META, claimedRevision } from './protocol-era.ts';

/** Why a request's metadata was refused, mapped by the endpoint onto HTTP and JSON-RPC codes. */
export type MetadataFailure =
  /** §Server Validation: 400 with `HeaderMismatch` (-32020). */
  | { kind: 'header_mismatch'; message: string }
  /** The per-request `_meta` envelope is missing or lacks its protocol version: 400 with -32602 (basic/index §_meta). */
  | { kind: 'invalid_params'; message: string }
  /** §Sending Messages 4: a client must not POST JSON-RPC responses in this revision. */
  | { kind: 'invalid_message'; message: string };

export type MetadataVerdict = { ok: true } | ({ ok: false } & MetadataFailure);

/** The methods whose `Mcp-Name` header is required, and the body field it mirrors (§Standard Request Headers). */
const nameSource: Record<string, 'name' | 'uri'> = {
  'tools/call': 'name',
  'prompts/get': 'name',
  'resources/read': 'uri',
};

/**
 * Where a tool's `x-mcp-header` annotations point: header suffix (lower case) → property path in the
 * call's `arguments`. Known only to whoever has seen the tool's `inputSchema`.
 */
export type ParamHeaderMap = ReadonlyMap<string, readonly string[]>;

const SENTINEL_PREFIX = '=?base64?';
const SENTINEL_SUFFIX = '?=';
const base64Pattern = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
// RFC 9110 field values as §Value Encoding restricts them: visible ASCII, space and horizontal tab.
const headerSafe = /^[\t\x20-\x7e]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });
const decimal = /^[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?$/;

/**
 * Decodes a header value that may use the Base64 sentinel form `=?base64?…?=` (§Value Encoding).
 * Returns undefined when the value has characters outside the safe set, or the sentinel wraps
 * something that is not canonical Base64 of valid UTF-8.
 */
export function decodeHeaderValue(value: string): string | undefined {
  if (!headerSafe.test(value)) return undefined;
  if (!(value.startsWith(SENTINEL_PREFIX) && value.endsWith(SENTINEL_SUFFIX))) return value;
  if (value.length < SENTINEL_PREFIX.length + SENTINEL_SUFFIX.length) return undefined;
  const encoded = value.slice(SENTINEL_PREFIX.length, value.length - SENTINEL_SUFFIX.length);
  if (!base64Pattern.test(encoded)) return undefined;
  try {
    return utf8.decode(Buffer.from(encoded, 'base64'));
  } catch {
    return undefined;
  }
}

function single(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function mismatch(message: string): MetadataVerdict {
  return { ok: false, kind: 'header_mismatch', message: `Header mismatch: ${message}` };
}

/** The string a parameter value is mirrored as (§Value Encoding, type conversion); undefined when absent. */
function mirrored(value: unknown): string | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return null; // a type x-mcp-header may not annotate
}

function valueAt(root: unknown, path: readonly string[]): unknown {
  let v = root;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function checkParamHeaders(
  headers: IncomingHttpHeaders,
  message: JsonRpcMessage,
  params: ParamHeaderMap | undefined,
): MetadataVerdict {
  for (const [name, raw] of Object.entries(headers)) {
    if (!name.startsWith('mcp-param-') || raw === undefined) continue;
    const value = Array.isArray(raw) ? raw.join(', ') : raw;
    if (name.length === 'mcp-param-'.length) return mismatch('an Mcp-Param- header needs a name');
    if (decodeHeaderValue(value) === undefined)
      return mismatch(`${name} has invalid characters or a malformed Base64 value`);
  }
  if (!params || message.kind !== 'request' || message.method !== 'tools/call') return { ok: true };
  const args = message.params?.arguments;
  for (const [suffix, path] of params) {
    const header = single(headers, `mcp-param-${suffix}`);
    const body = mirrored(valueAt(args, path));
    if (body === null)
      return mismatch(
        `the argument mirrored to Mcp-Param-${suffix} is not a string, a safe integer or a boolean`,
      );
    if (body === undefined) {
      if (header !== undefined)
        return mismatch(`Mcp-Param-${suffix} is present but the argument is absent from the body`);
      continue;
    }
    if (header === undefined) return mismatch(`Mcp-Param-${suffix} is required: the body has the argument`);
    const decoded = decodeHeaderValue(header)!;
    // §Server Validation: integers compare numerically (`42.0` is 42), but only in decimal notation.
    const same =
      typeof valueAt(args, path) === 'number'
        ? decimal.test(decoded) && Number(decoded) === Number(body)
        : decoded === body;
    if (!same) return mismatch(`Mcp-Param-${suffix} header value does not match the body value`);
  }
  return { ok: true };
}

/**
 * Validates a modern request's metadata headers against its body. `params`, when the tool's
 * `x-mcp-header` annotations are known, extends the check to every mirrored argument; without it only the
 * encoding of `Mcp-Param-*` headers is checked (the upstream, which knows the schema, checks the values).
 */
export function validateRequestMetadata(
  headers: IncomingHttpHeaders,
  message: JsonRpcMessage,
  params?: ParamHeaderMap,
): MetadataVerdict {
  if (message.kind === 'response') {
    return {
      ok: false,
      kind: 'invalid_message',
      message: 'a client must not send JSON-RPC responses in protocol revision 2026-07-28',
    };
  }
  // §Protocol Version Header: present and equal to the body's claim. Whether the revision is supported is
  // the upstream's answer (its UnsupportedProtocolVersionError lists what it serves, which the proxy cannot
  // know); the header rules of 2026-07-28 apply to every modern revision as the floor.
  const version = single(headers, 'mcp-protocol-version');
  if (version === undefined) return mismatch('the MCP-Protocol-Version header is required');
  const claim = claimedRevision(message);
  if (claim === undefined) {
    return {
      ok: false,
      kind: 'invalid_params',
      message: 'Invalid params: params._meta["io.modelcontextprotocol/protocolVersion"] is required',
    };
  }
  if (typeof claim !== 'string' || claim !== version)
    return mismatch(
      `MCP-Protocol-Version header value '${version}' does not match body value '${String(claim)}'`,
    );
  // §Request Metadata: a request (not a notification) also says which client capabilities it may use.
  if (message.kind === 'request') {
    // The claim above was found in params._meta, so both are objects here.
    const capabilities = (message.params!._meta as Record<string, unknown>)[CLIENT_CAPABILITIES_META];
    if (typeof capabilities !== 'object' || capabilities === null || Array.isArray(capabilities)) {
      return {
        ok: false,
        kind: 'invalid_params',
        message: `Invalid params: params._meta["${CLIENT_CAPABILITIES_META}"] must be an object`,
      };
    }
  }
  // §Standard Request Headers: Mcp-Method on every request; values are case-sensitive (§Case Sensitivity).
  // Header requirements for notifications are not defined by 2026-07-28; a header that is sent must still agree.
  const method = single(headers, 'mcp-method');
  if (method === undefined) {
    if (message.kind === 'request') return mismatch('the Mcp-Method header is required');
  } else if (method !== message.method) {
    return mismatch(`Mcp-Method header value '${method}' does not match body value '${message.method}'`);
  }
  const field = nameSource[message.method];
  if (field && message.kind === 'request') {
    const raw = single(headers, 'mcp-name');
    if (raw === undefined) return mismatch(`the Mcp-Name header is required for ${message.method}`);
    const name = decodeHeaderValue(raw);
    if (name === undefined) return mismatch('Mcp-Name has invalid characters or a malformed Base64 value');
    const body = message.params?.[field];
    if (typeof body !== 'string' || name !== body)
      return mismatch(`Mcp-Name header value '${raw}' does not match body params.${field}`);
  }
  return checkParamHeaders(headers, message, params);
}
