/**
 * Which MCP wire era a request speaks. The proxy is dual-era (MCP 2026-07-28, "Versioning and
 * Compatibility" §Backward Compatibility): a request that carries the per-request `_meta` protocol-version
 * claim is modern and served statelessly; everything else (the `initialize` handshake, session traffic,
 * GET streams, DELETE) is legacy and keeps the 2025-11-25 session rules.
 *
 * @module
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { JsonRpcMessage } from './jsonrpc.ts';

export type ProtocolEra = 'legacy' | 'modern';

/** The `_meta` key that carries a modern request's protocol version (2026-07-28 basic/index §_meta). */
export const PROTOCOL_VERSION_META = 'io.modelcontextprotocol/protocolVersion';

/** The `_meta` key that carries the client capabilities a modern request may use. */
export const CLIENT_CAPABILITIES_META = 'io.modelcontextprotocol/clientCapabilities';

/** The first revision with per-request metadata instead of the `initialize` handshake. */
export const FIRST_MODERN_REVISION = '2026-07-28';

/**
 * The `_meta` of the proxy's own 2026-07-28 requests (its `server/discover` probes): that revision, no
 * client capabilities, and who the proxy is when it says so.
 */
export function proxyRequestMeta(clientInfo?: { name: string; version: string }): Record<string, unknown> {
  return {
    [PROTOCOL_VERSION_META]: FIRST_MODERN_REVISION,
    [CLIENT_CAPABILITIES_META]: {},
    ...(clientInfo && { 'io.modelcontextprotocol/clientInfo': clientInfo }),
  };
}

/** The session-bound revisions before it, which a legacy `MCP-Protocol-Version` header may name. */
export const LEGACY_REVISIONS: ReadonlySet<string> = new Set([
  '2024-11-05',
  '2025-03-26',
  '2025-06-18',
  '2025-11-25',
]);

const revisionPattern = /^\d{4}-\d{2}-\d{2}$/;

/** Whether a revision string names a modern (per-request metadata) revision; date strings compare in order. */
export function isModernRevision(revision: string): boolean {
  return revisionPattern.test(revision) && revision >= FIRST_MODERN_REVISION;
}

/** The protocol version a message claims in `params._meta`, or undefined when it makes no claim. */
export function claimedRevision(message: JsonRpcMessage | undefined): unknown {
  if (!message || message.kind === 'response') return undefined;
  const meta = message.params?._meta;
  if (typeof meta !== 'object' || meta === null) return undefined;
  return (meta as Record<string, unknown>)[PROTOCOL_VERSION_META];
}

/**
 * Decides the era of one request from its headers and parsed body (undefined for GET/DELETE).
 * Modern when the body claims a protocol version, or when the `MCP-Protocol-Version` header names a
 * modern revision (a modern header without the claim is still modern, so that the header validation
 * rejects it rather than the request slipping through as legacy traffic that skips validation).
 */
export function detectEra(headers: IncomingHttpHeaders, message: JsonRpcMessage | undefined): ProtocolEra {
  if (claimedRevision(message) !== undefined) return 'modern';
  const header = headers['mcp-protocol-version'];
  if (typeof header === 'string' && isModernRevision(header.trim())) return 'modern';
  return 'legacy';
}
