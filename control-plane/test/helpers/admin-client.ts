/**
 * Calls a replica's admin API in-process with the test admin token. JSON bodies only when given
 * (Fastify refuses an empty body declared as JSON).
 *
 * @module
 */
import type { ControlPlane } from '../../src/app.ts';
import { ADMIN_TOKEN } from './replica.ts';

export function adminClient(cp: () => ControlPlane) {
  return (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: unknown) =>
    cp().publicApp.inject({
      method,
      url,
      headers: {
        authorization: `Bearer ${ADMIN_TOKEN}`,
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      },
      payload: payload === undefined ? undefined : JSON.stringify(payload),
    });
}
