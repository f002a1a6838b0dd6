/**
 * The `initialize` request a 2025-11-25 client opens a session with, for tests that open sessions by
 * hand rather than through an SDK client.
 *
 * @module
 */

/** The latest session-based revision (the Streamable HTTP era before 2026-07-28). */
export const LEGACY = '2025-11-25';

/** An `initialize` request with no client capabilities. */
export const legacyInitialize = (id: number | string = 1, protocolVersion: string = LEGACY) => ({
  jsonrpc: '2.0' as const,
  id,
  method: 'initialize' as const,
  params: { protocolVersion, capabilities: {}, clientInfo: { name: 't', version: '1' } },
});
