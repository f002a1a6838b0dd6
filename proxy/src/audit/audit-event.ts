/**
 * The audit event the proxy records for every JSON-RPC exchange, before it is put on the wire.
 *
 * @module
 */
export type AuditOutcome = 'ok' | 'error' | 'denied' | 'unauthenticated' | 'invalid';

export interface AuditRecord {
  eventId: string;
  time: Date;
  user: string;
  method: string;
  target: string;
  outcome: AuditOutcome;
  httpStatus: number;
  errorCode: number;
  latencyUs: number;
  requestBytes: number;
  responseBytes: number;
  sessionId: string;
  reason: string;
  requestId: string;
  /** W3C trace id of the request (32 lower-case hex). */
  traceId: string;
}
