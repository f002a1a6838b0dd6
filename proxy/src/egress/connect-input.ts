/**
 * Asking a 2026-07-28 client to connect the user's account. On that wire a server cannot send
 * `elicitation/create` mid-request and must not use the 2025-11-25 URLElicitationRequired error
 * (-32042); it answers an `InputRequiredResult` (multi round-trip requests) whose input request is a
 * URL-mode elicitation, and the client retries the request with its `inputResponses` and the
 * `requestState` it was given. The proxy marks that state as its own, so that the retry reaches the
 * upstream without the round trip the upstream never asked for. A client that did not declare URL
 * elicitation gets MissingRequiredClientCapability (-32021) naming it.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { JsonRpcRequest } from '../server/jsonrpc.ts';
import { CLIENT_CAPABILITIES_META } from '../server/protocol-era.ts';

/** The key of the proxy's input request, and the `requestState` that marks a retry of it. */
export const CONNECT_INPUT = 'tessera-connect';

/** The `result` that asks the client to open `url` and then retry. */
export function connectInputRequired(url: string, message: string): Record<string, unknown> {
  return {
    resultType: 'input_required',
    inputRequests: {
      [CONNECT_INPUT]: {
        method: 'elicitation/create',
        params: { mode: 'url', elicitationId: randomUUID(), url, message },
      },
    },
    requestState: CONNECT_INPUT,
  };
}

/** Whether the request's client declared URL-mode elicitation in `_meta.clientCapabilities`. */
export function acceptsUrlElicitation(message: JsonRpcRequest): boolean {
  const meta = message.params?._meta as Record<string, unknown> | undefined;
  const caps = meta?.[CLIENT_CAPABILITIES_META] as Record<string, unknown> | undefined;
  const elicitation = caps?.elicitation as Record<string, unknown> | undefined;
  return typeof elicitation === 'object' && elicitation !== null && typeof elicitation.url === 'object';
}

/**
 * A retry of the proxy's round trip without it: `requestState` and the proxy's input response removed,
 * as a message and as the body that carries it. Undefined when the request is not such a retry
 * (forward it as it is).
 */
export function withoutConnectRound(
  message: JsonRpcRequest,
): { message: JsonRpcRequest; body: Buffer } | undefined {
  const params = message.params;
  if (params?.requestState !== CONNECT_INPUT) return undefined;
  const { requestState: _, inputResponses, ...rest } = params;
  const responses = { ...(inputResponses as Record<string, unknown> | undefined) };
  delete responses[CONNECT_INPUT];
  const cleaned = Object.keys(responses).length > 0 ? { ...rest, inputResponses: responses } : rest;
  return {
    message: { ...message, params: cleaned },
    body: Buffer.from(
      JSON.stringify({ jsonrpc: '2.0', id: message.id, method: message.method, params: cleaned }),
    ),
  };
}
