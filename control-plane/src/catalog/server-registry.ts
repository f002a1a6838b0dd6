/**
 * The registry of MCP servers in Postgres. Every change is announced through `onChange`, which the
 * mesh uses to push new configuration.
 *
 * @module
 */
import type { DataSource, Repository } from 'typeorm';
import { McpServerEntity, type McpServerRow } from '../db/entities/mcp-server.ts';
import { TesseraError } from '../errors.ts';
import type { FilterSecrets } from './filter-secrets.ts';
import type { PolicyInput } from './policy-input.ts';
import type { ServerInput } from './server-input.ts';

export interface ServerRegistry {
  list(): Promise<McpServerRow[]>;
  get(name: string): Promise<McpServerRow | null>;
  /** @throws TesseraError `TESSERA_CONFLICT` when the name or resource URI is taken. */
  create(input: ServerInput): Promise<McpServerRow>;
  /** Creates or replaces a server (used for the demo server at start). */
  upsert(input: ServerInput): Promise<McpServerRow>;
  /** @throws TesseraError `TESSERA_NOT_FOUND` */
  setGrants(name: string, grants: { grantUsers: string[]; grantGroups: string[] }): Promise<McpServerRow>;
  /**
   * Replaces the server's rules, rate limits, filters and body capture; the filter secrets are sealed.
   * @throws TesseraError `TESSERA_NOT_FOUND` */
  setPolicy(name: string, policy: PolicyInput): Promise<McpServerRow>;
  onChange(listener: (server: string) => void): void;
  /**
   * Announces a change to a server's configuration that lives outside its row (its API keys, its
   * upstream credentials), so its proxies get a new snapshot.
   */
  notify(server: string): void;
}

function isUniqueViolation(err: unknown): boolean {
  return (err as { driverError?: { code?: string } }).driverError?.code === '23505';
}

/** @param filterSecrets where `setPolicy` seals the filter secrets, with the policy in one transaction */
export function createServerRegistry(ds: DataSource, filterSecrets: FilterSecrets): ServerRegistry {
  const repo: Repository<McpServerRow> = ds.getRepository(McpServerEntity);
  const listeners: Array<(server: string) => void> = [];
  const changed = (name: string) => {
    for (const l of listeners) l(name);
  };
  return {
    list: () => repo.find({ order: { name: 'ASC' } }),
    get: (name) => repo.findOneBy({ name }),
    async create(input) {
      try {
        await repo.insert(input);
      } catch (err) {
        if (isUniqueViolation(err)) {
          throw new TesseraError(
            'TESSERA_CONFLICT',
            `a server named "${input.name}" or with resource URI ${input.resourceUri} exists`,
          );
        }
        throw err;
      }
      changed(input.name);
      return (await repo.findOneBy({ name: input.name }))!;
    },
    async upsert(input) {
      await repo.upsert(input, ['name']);
      changed(input.name);
      return (await repo.findOneBy({ name: input.name }))!;
    },
    async setGrants(name, grants) {
      const result = await repo.update({ name }, grants);
      if (!result.affected) throw new TesseraError('TESSERA_NOT_FOUND', `server "${name}" does not exist`);
      changed(name);
      return (await repo.findOneBy({ name }))!;
    },
    async setPolicy(name, policy) {
      if (!(await filterSecrets.store(name, policy)))
        throw new TesseraError('TESSERA_NOT_FOUND', `server "${name}" does not exist`);
      changed(name);
      return (await repo.findOneBy({ name }))!;
    },
    onChange(listener) {
      listeners.push(listener);
    },
    notify: changed,
  };
}
