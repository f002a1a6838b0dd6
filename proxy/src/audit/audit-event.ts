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
  /** `allow`, `deny`, or '' when the request ended before policy. */
  decision?: 'allow' | 'deny' | '';
  /** The rule that decided (see the README's audit event schema). */
  ruleId?: string;
  /** Every filter webhook that saw the exchange, in call order. */
  filters?: FilterDecisionRecord[];
  /** sha256 hex of the canonical JSON of `params.arguments`; '' without arguments. */
  argumentsDigest?: string;
  clientId?: string;
  groups?: string[];
  /** Redacted, capped bodies; '' unless the server enables body capture. */
  requestBody?: string;
  responseBody?: string;
  bodiesTruncated?: boolean;
  /** The MCP protocol revision the request named. */
  era?: string;
}

/** What one filter webhook decided. */
export interface FilterDecisionRecord {
  name: string;
  phase: 'request' | 'response';
  decision: 'allow' | 'deny' | 'mutate' | 'error';
  reason: string;
  latencyUs: number;
}
