/**
 * Filter webhook HMAC secrets, sealed at rest. The admin API receives a policy with its secrets;
 * they are sealed into `filter_secrets` (one row per filter, context `filter_secrets/<server>/<filter>`)
 * and the policy stored in `mcp_servers.policy` carries none. When a proxy's snapshot is built the
 * secrets are opened again and pushed in `ServerPolicy`, over the authenticated mesh stream, because
 * the proxy signs every webhook call with them.
 *
 * @module
 */
import type { DataSource, EntityManager } from 'typeorm';
import type { SecretBox } from '../crypto/secret-box.ts';
import { FilterSecretEntity } from '../db/entities/filter-secret.ts';
import { McpServerEntity } from '../db/entities/mcp-server.ts';
import type { FilterInput, PolicyInput, StoredPolicy } from './policy-input.ts';

/** The SecretBox context of one filter's secret: a sealed value only opens in its own row. */
export const filterSecretContext = (server: string, filter: string) => `filter_secrets/${server}/${filter}`;

/** The policy without its secrets, as stored. */
export function withoutSecrets(policy: PolicyInput): StoredPolicy {
  return { ...policy, filters: policy.filters.map(({ hmacSecret: _, ...f }) => f) };
}

export interface FilterSecrets {
  /**
   * Stores `policy` as the server's policy and its filters' secrets, sealed, in one transaction.
   *
   * @returns whether the server exists (nothing is written when it does not)
   */
  store(server: string, policy: PolicyInput): Promise<boolean>;
  /** The stored policy with each filter's secret opened, for the proxies. */
  open(server: string, policy: Partial<StoredPolicy>): Promise<Partial<PolicyInput>>;
  /** Seals the secrets an earlier version left in `mcp_servers.policy` and removes them from it. */
  sealLegacy(): Promise<number>;
}

export function createFilterSecrets(options: { ds: DataSource; box: SecretBox }): FilterSecrets {
  const { ds, box } = options;

  async function replace(m: EntityManager, server: string, policy: PolicyInput): Promise<void> {
    const rows = await Promise.all(
      policy.filters.map(async (f) => ({
        server,
        filterName: f.name,
        sealedSecret: await box.seal(f.hmacSecret, filterSecretContext(server, f.name)),
      })),
    );
    await m.delete(FilterSecretEntity, { server });
    if (rows.length > 0) await m.insert(FilterSecretEntity, rows);
  }

  return {
    async store(server, policy) {
      return ds.transaction(async (m) => {
        const updated = await m.update(McpServerEntity, { name: server }, { policy: withoutSecrets(policy) });
        if (!updated.affected) return false;
        await replace(m, server, policy);
        return true;
      });
    },

    async open(server, policy) {
      const filters = policy.filters ?? [];
      if (filters.length === 0) return { ...policy, filters: [] };
      const rows = await ds.getRepository(FilterSecretEntity).findBy({ server });
      const sealed = new Map(rows.map((r) => [r.filterName, r.sealedSecret]));
      const opened: FilterInput[] = [];
      for (const f of filters) {
        const s = sealed.get(f.name);
        // A filter without its secret cannot sign; an empty secret makes the proxy refuse the policy.
        const hmacSecret = s ? await box.openText(s, filterSecretContext(server, f.name)) : '';
        opened.push({ ...f, hmacSecret });
      }
      return { ...policy, filters: opened };
    },

    async sealLegacy() {
      const legacy: Array<{ name: string; policy: PolicyInput }> = await ds.query(
        `SELECT name, policy FROM mcp_servers WHERE jsonb_path_exists(policy, '$.filters[*].hmacSecret')`,
      );
      for (const row of legacy) {
        await ds.transaction(async (m) => {
          // Conditional, so two replicas starting together do not both seal (either result is valid).
          const updated = await m
            .createQueryBuilder()
            .update(McpServerEntity)
            .set({ policy: withoutSecrets(row.policy) })
            .where('name = :name AND policy = :old', { name: row.name, old: JSON.stringify(row.policy) })
            .execute();
          if (updated.affected) await replace(m, row.name, row.policy);
        });
      }
      return legacy.length;
    },
  };
}
