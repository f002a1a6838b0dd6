/**
 * The audit record of a stdio MCP server's spawn (gateway checklist: every spawn is audited). It is
 * not an exchange, so it has its own method, `tessera/spawn`: the user whose session or stateless
 * channel needed the process (named as in the requests' events: `email`, else `sub`), the command as
 * `target`, and the arguments and pid as `reason`.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { StdioSpawnEvent } from '../upstream/stdio-channel.ts';
import type { AuditRecord } from './audit-event.ts';

export const SPAWN_METHOD = 'tessera/spawn';

export function spawnRecord(spawn: StdioSpawnEvent, now = new Date()): AuditRecord {
  const { session, user, principal } = spawn.context;
  return {
    eventId: randomUUID(),
    time: now,
    user: typeof user === 'string' ? user : typeof principal === 'string' ? principal : '',
    method: SPAWN_METHOD,
    target: spawn.command,
    outcome: spawn.pid === undefined ? 'error' : 'ok',
    httpStatus: 0,
    errorCode: 0,
    latencyUs: 0,
    requestBytes: 0,
    responseBytes: 0,
    sessionId: typeof session === 'string' ? session : '',
    reason: JSON.stringify({ args: spawn.args, pid: spawn.pid ?? null }),
    requestId: '',
    traceId: '',
    decision: '',
    ruleId: '',
    filters: [],
    argumentsDigest: '',
    clientId: '',
    groups: [],
    requestBody: '',
    responseBody: '',
    bodiesTruncated: false,
    era: '',
  };
}
