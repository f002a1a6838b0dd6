/**
 * A registered MCP server: how its proxy reaches it, its canonical resource URI and who may use it.
 *
 * @module
 */
import { EntitySchema } from 'typeorm';
import type { StoredPolicy } from '../../catalog/policy-input.ts';

/** `sse`: a server that speaks only the deprecated HTTP+SSE transport; its `url` is the SSE URL. */
export type ServerKind = 'stdio' | 'http' | 'sse';

export interface McpServerRow {
  name: string;
  kind: ServerKind;
  /** stdio: the executable. */
  command: string | null;
  /** stdio: its arguments. */
  args: string[];
  /** http: the MCP server URL the proxy forwards to; sse: its SSE URL. */
  url: string | null;
  /** The canonical URI clients call; the audience of its tokens. */
  resourceUri: string;
  /** Local mode: the port its proxy listens on. */
  localPort: number | null;
  grantUsers: string[];
  grantGroups: string[];
  /** Rules, rate limits, filters (without their secrets) and body capture; `{}` (nothing) until set. */
  policy: Partial<StoredPolicy>;
  createdAt: Date;
  updatedAt: Date;
}

export const McpServerEntity = new EntitySchema<McpServerRow>({
  name: 'McpServer',
  tableName: 'mcp_servers',
  columns: {
    name: { type: 'text', primary: true },
    kind: { type: 'text' },
    command: { type: 'text', nullable: true },
    args: { type: 'jsonb', default: () => "'[]'" },
    url: { type: 'text', nullable: true },
    resourceUri: { name: 'resource_uri', type: 'text', unique: true },
    localPort: { name: 'local_port', type: 'integer', nullable: true },
    grantUsers: { name: 'grant_users', type: 'jsonb', default: () => "'[]'" },
    grantGroups: { name: 'grant_groups', type: 'jsonb', default: () => "'[]'" },
    policy: { type: 'jsonb', default: () => "'{}'" },
    createdAt: { name: 'created_at', type: 'timestamptz', createDate: true },
    updatedAt: { name: 'updated_at', type: 'timestamptz', updateDate: true },
  },
});
