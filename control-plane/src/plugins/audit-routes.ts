/**
 * `GET /api/v1/audit`: audit events newest first, filtered and paged (see `audit-query.ts`).
 * Captured request and response bodies are returned only to callers holding `read_audit_bodies`
 * (the auditor role); everyone else gets the events with `bodies: "redacted"` and no body fields.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify';
import type { DataSource } from 'typeorm';
import { auditSql, encodeCursor, parseAuditQuery } from '../audit/audit-query.ts';
import { allows } from '../identity/roles.ts';
import { principalOf } from './admin-auth.ts';

interface EventRow {
  time_us: string;
  event_id: string;
  time: Date;
  received_at: Date;
  proxy_id: string;
  server: string;
  user_name: string;
  groups: string[];
  client_id: string;
  method: string;
  target: string;
  outcome: string;
  decision: string;
  rule_id: string;
  reason: string;
  http_status: number;
  error_code: number;
  latency_us: string;
  request_bytes: string;
  response_bytes: string;
  session_id: string;
  request_id: string;
  trace_id: string;
  arguments_digest: string;
  filters: unknown[];
  era: string;
  request_body: string;
  response_body: string;
  bodies_truncated: boolean;
}

function view(r: EventRow, withBodies: boolean) {
  const event = {
    eventId: r.event_id,
    time: r.time,
    receivedAt: r.received_at,
    proxyId: r.proxy_id,
    server: r.server,
    user: r.user_name,
    groups: r.groups,
    clientId: r.client_id,
    method: r.method,
    target: r.target,
    outcome: r.outcome,
    decision: r.decision,
    ruleId: r.rule_id,
    reason: r.reason,
    httpStatus: r.http_status,
    errorCode: r.error_code,
    latencyUs: Number(r.latency_us),
    requestBytes: Number(r.request_bytes),
    responseBytes: Number(r.response_bytes),
    sessionId: r.session_id,
    requestId: r.request_id,
    traceId: r.trace_id,
    argumentsDigest: r.arguments_digest,
    filters: r.filters,
    era: r.era,
  };
  if (!withBodies) return event;
  return {
    ...event,
    requestBody: r.request_body,
    responseBody: r.response_body,
    bodiesTruncated: r.bodies_truncated,
  };
}

export function registerAuditRoutes(app: FastifyInstance, ds: DataSource): void {
  app.get('/api/v1/audit', async (req) => {
    const query = parseAuditQuery(req.query as Record<string, unknown>);
    const withBodies = allows(principalOf(req).roles, 'read_audit_bodies');
    const { where, params, limit } = auditSql(query);
    const rows: EventRow[] = await ds.query(
      `SELECT (extract(epoch FROM time) * 1000000)::bigint::text AS time_us, *
       FROM audit_events ${where} ORDER BY time DESC, event_id DESC LIMIT ${limit}`,
      params,
    );
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      bodies: withBodies ? 'included' : 'redacted',
      events: page.map((r) => view(r, withBodies)),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last.time_us, last.event_id) : null,
    };
  });
}
