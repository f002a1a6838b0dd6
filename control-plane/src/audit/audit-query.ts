/**
 * The audit read API's query: filters, a page size and an opaque cursor, validated from the query
 * string and turned into one parameterised SQL statement. Events come newest first; the cursor
 * is the (time in microseconds, event id) of the last event of the previous page, so paging is
 * stable while new events arrive.
 *
 * @module
 */
import { TesseraError } from '../errors.ts';

export interface AuditQuery {
  server?: string;
  user?: string;
  outcome?: string;
  decision?: string;
  traceId?: string;
  since?: Date;
  until?: Date;
  limit: number;
  after?: { timeUs: string; eventId: string };
}

export const DEFAULT_AUDIT_PAGE = 100;
export const MAX_AUDIT_PAGE = 1000;

const TEXT_FILTERS = ['server', 'user', 'outcome', 'decision', 'traceId'] as const;
const ALLOWED = new Set<string>([...TEXT_FILTERS, 'since', 'until', 'limit', 'cursor']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function bad(message: string): never {
  throw new TesseraError('TESSERA_INVALID_ARGUMENT', message);
}

function time(name: string, value: string): Date {
  const d = /^\d{4}-\d{2}-\d{2}T/.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(d.getTime())) bad(`"${name}" must be an RFC 3339 time such as 2026-01-31T12:00:00Z`);
  return d;
}

export function encodeCursor(timeUs: string, eventId: string): string {
  return Buffer.from(`${timeUs}.${eventId}`).toString('base64url');
}

function decodeCursor(cursor: string): { timeUs: string; eventId: string } {
  const m = /^(\d{1,17})\.([0-9a-f-]{36})$/.exec(Buffer.from(cursor, 'base64url').toString());
  if (!m || !UUID.test(m[2]!)) bad('"cursor" is not a cursor this API returned');
  return { timeUs: m[1]!, eventId: m[2]! };
}

/**
 * Validates the query string of `GET /api/v1/audit`.
 *
 * @throws TesseraError TESSERA_INVALID_ARGUMENT naming the parameter.
 */
export function parseAuditQuery(raw: Record<string, unknown>): AuditQuery {
  const q: AuditQuery = { limit: DEFAULT_AUDIT_PAGE };
  for (const [k, v] of Object.entries(raw)) {
    if (!ALLOWED.has(k)) bad(`unknown parameter "${k}"; filters are ${[...ALLOWED].join(', ')}`);
    if (typeof v !== 'string') bad(`"${k}" must be given once`);
    if (v.length === 0 || v.length > 512) bad(`"${k}" must be 1 to 512 characters`);
  }
  const s = raw as Record<string, string | undefined>;
  for (const k of TEXT_FILTERS) if (s[k] !== undefined) q[k] = s[k];
  if (s.since !== undefined) q.since = time('since', s.since);
  if (s.until !== undefined) q.until = time('until', s.until);
  if (q.since && q.until && q.since > q.until) bad('"since" must not be after "until"');
  if (s.limit !== undefined) {
    const n = Number(s.limit);
    if (!Number.isInteger(n) || n < 1 || n > MAX_AUDIT_PAGE)
      bad(`"limit" must be an integer from 1 to ${MAX_AUDIT_PAGE}`);
    q.limit = n;
  }
  if (s.cursor !== undefined) q.after = decodeCursor(s.cursor);
  return q;
}

const COLUMN: Record<(typeof TEXT_FILTERS)[number], string> = {
  server: 'server',
  user: 'user_name',
  outcome: 'outcome',
  decision: 'decision',
  traceId: 'trace_id',
};

/** The WHERE clause and parameters for a query; one more row than the page is asked for, to know if more follow. */
export function auditSql(q: AuditQuery): { where: string; params: unknown[]; limit: number } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  for (const k of TEXT_FILTERS) {
    if (q[k] === undefined) continue;
    params.push(q[k]);
    clauses.push(`${COLUMN[k]} = $${params.length}`);
  }
  if (q.since) {
    params.push(q.since);
    clauses.push(`time >= $${params.length}`);
  }
  if (q.until) {
    params.push(q.until);
    clauses.push(`time < $${params.length}`);
  }
  if (q.after) {
    params.push(q.after.timeUs, q.after.eventId);
    clauses.push(
      `(time, event_id) < (to_timestamp(0) + $${params.length - 1}::bigint * interval '1 microsecond', $${params.length}::uuid)`,
    );
  }
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params, limit: q.limit + 1 };
}
