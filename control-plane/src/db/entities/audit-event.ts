/**
 * One stored audit event: a JSON-RPC exchange seen by a proxy. `eventId` is the proxy's idempotency
 * key, so a retried batch never stores an event twice.
 *
 * @module
 */
import { EntitySchema } from 'typeorm';

export interface AuditEventRow {
  eventId: string;
  time: Date;
  receivedAt: Date;
  batchId: string;
  proxyId: string;
  server: string;
  userName: string;
  method: string;
  target: string;
  outcome: string;
  httpStatus: number;
  errorCode: number;
  latencyUs: string;
  requestBytes: string;
  responseBytes: string;
  sessionId: string;
  reason: string;
  requestId: string;
  traceId: string;
  decision: string;
  ruleId: string;
  filters: Array<{ name: string; phase: string; decision: string; reason: string; latencyUs: number }>;
  argumentsDigest: string;
  clientId: string;
  groups: string[];
  requestBody: string;
  responseBody: string;
  bodiesTruncated: boolean;
  era: string;
}

export const AuditEventEntity = new EntitySchema<AuditEventRow>({
  name: 'AuditEvent',
  tableName: 'audit_events',
  columns: {
    eventId: { name: 'event_id', type: 'uuid', primary: true },
    time: { type: 'timestamptz' },
    receivedAt: { name: 'received_at', type: 'timestamptz', createDate: true },
    batchId: { name: 'batch_id', type: 'uuid' },
    proxyId: { name: 'proxy_id', type: 'text' },
    server: { type: 'text' },
    userName: { name: 'user_name', type: 'text' },
    method: { type: 'text' },
    target: { type: 'text' },
    outcome: { type: 'text' },
    httpStatus: { name: 'http_status', type: 'integer' },
    errorCode: { name: 'error_code', type: 'integer' },
    latencyUs: { name: 'latency_us', type: 'bigint' },
    requestBytes: { name: 'request_bytes', type: 'bigint' },
    responseBytes: { name: 'response_bytes', type: 'bigint' },
    sessionId: { name: 'session_id', type: 'text' },
    reason: { type: 'text' },
    requestId: { name: 'request_id', type: 'text' },
    traceId: { name: 'trace_id', type: 'text', default: '' },
    decision: { type: 'text', default: '' },
    ruleId: { name: 'rule_id', type: 'text', default: '' },
    filters: { type: 'jsonb', default: () => "'[]'" },
    argumentsDigest: { name: 'arguments_digest', type: 'text', default: '' },
    clientId: { name: 'client_id', type: 'text', default: '' },
    groups: { type: 'jsonb', default: () => "'[]'" },
    requestBody: { name: 'request_body', type: 'text', default: '' },
    responseBody: { name: 'response_body', type: 'text', default: '' },
    bodiesTruncated: { name: 'bodies_truncated', type: 'boolean', default: false },
    era: { type: 'text', default: '' },
  },
});
