/**
 * Renders mesh status (GET /api/v1/mesh/proxies) as the `tessera proxy-status` table: per proxy its
 * server, role, replica, connection time, and per resource type the sync state and version.
 * Pure: input is the API's JSON, output the text.
 *
 * @module
 */
import type { ProxyStatus } from '../mesh/config-hub.ts';

const TYPES = ['TrustBundle', 'Upstream', 'ServerPolicy', 'AuditSettings'] as const;
const HEADERS = ['NODE', 'SERVER', 'ROLE', 'REPLICA', 'CONNECTED', 'TRUST', 'UPSTREAM', 'POLICY', 'AUDIT'];

function cell(p: ProxyStatus, type: (typeof TYPES)[number]): string {
  const t = p.types.find((x) => x.typeUrl.endsWith(`.${type}`));
  if (!t) return 'NOT_SENT';
  const version = (t.state === 'SYNCED' ? t.ackedVersion : t.sentVersion).slice(0, 8);
  return version ? `${t.state} ${version}` : t.state;
}

/**
 * The table, then one line per NACKed type with its error and one per type that recovered from an
 * earlier NACK. `partial`: the other replicas' rows could not be read.
 */
export function formatProxyStatus(proxies: ProxyStatus[], partial = false): string {
  const note = partial
    ? 'Warning: the other replicas could not be read (PostgreSQL unavailable); showing only this replica.\n'
    : '';
  const rows = [...proxies]
    .sort((a, b) => a.server.localeCompare(b.server) || a.nodeId.localeCompare(b.nodeId))
    .map((p) => [
      p.nodeId,
      p.server,
      p.role,
      p.controlPlaneId,
      p.connectedAt,
      ...TYPES.map((t) => cell(p, t)),
    ]);
  if (rows.length === 0) return `${note}No proxies are connected to the control plane.\n`;
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const errors = proxies.flatMap((p) =>
    p.types
      .filter((t) => t.state === 'NACKED')
      .map((t) => `${p.nodeId} rejected ${t.typeUrl.split('.').pop()} ${t.sentVersion}: ${t.error}`),
  );
  const recovered = proxies.flatMap((p) =>
    p.types
      .filter((t) => t.state !== 'NACKED' && t.lastError)
      .map(
        (t) =>
          `${p.nodeId} ${t.typeUrl.split('.').pop()} recovered; last error at ${t.lastErrorAt}: ${t.lastError}`,
      ),
  );
  const notes = [...errors, ...recovered];
  return `${note}${[line(HEADERS), ...rows.map(line), ...(notes.length ? ['', ...notes] : [])].join('\n')}\n`;
}
