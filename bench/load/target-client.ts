/**
 * Sends the benchmark's `tools/call` to one target (the fixture directly, or the proxy) over an
 * undici pool of keep-alive connections, and reads each answer to its end.
 *
 * @module
 */
import { Pool } from 'undici';
import { toolsCallBody } from './payload.ts';
import type { Target } from './protocol.ts';

export interface TargetClient {
  /** Resolves with the HTTP status once the whole response body has arrived. */
  send(id: number): Promise<number>;
  /** Ends the connections now, failing whatever is still outstanding. */
  destroy(): Promise<void>;
}

/** A bound on every exchange, so that a stuck target cannot hold a run open. */
const EXCHANGE_TIMEOUT_MS = 10_000;

export function createTargetClient(target: Target): TargetClient {
  const url = new URL(target.url);
  const pool = new Pool(url.origin, {
    connections: target.connections,
    pipelining: 1,
    headersTimeout: EXCHANGE_TIMEOUT_MS,
    bodyTimeout: EXCHANGE_TIMEOUT_MS,
    keepAliveTimeout: 60_000,
  });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'application/json, text/event-stream',
  };
  if (target.token) headers.authorization = `Bearer ${target.token}`;
  const path = url.pathname;

  return {
    async send(id) {
      const res = await pool.request({ method: 'POST', path, headers, body: toolsCallBody(id) });
      await res.body.dump({ limit: 1024 * 1024 });
      return res.statusCode;
    },
    destroy: () => pool.destroy(),
  };
}

/** A short name for a failed exchange: `http_<status>` or the transport error's code. */
export function errorKind(status: number | undefined, err: unknown): string {
  if (status !== undefined) return `http_${status}`;
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : ((err as Error | undefined)?.name ?? 'error');
}
