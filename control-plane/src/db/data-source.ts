/**
 * The TypeORM data source. The schema changes only through migrations, which run at start
 * (`synchronize` is never used).
 *
 * @module
 */
import { DataSource } from 'typeorm';
import { ApiKeyEntity } from './entities/api-key.ts';
import { AuditEventEntity } from './entities/audit-event.ts';
import { FilterSecretEntity } from './entities/filter-secret.ts';
import { McpServerEntity } from './entities/mcp-server.ts';
import { SigningKeyEntity } from './entities/signing-key.ts';
import { UpstreamCredentialEntity } from './entities/upstream-credential.ts';
import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema.ts';
import { AuditTraceId1764100000000 } from './migrations/1764100000000-audit-trace-id.ts';
import { ServerPolicyAuditDecisions1764200000000 } from './migrations/1764200000000-server-policy-audit-decisions.ts';
import { ApiKeys1764300000000 } from './migrations/1764300000000-api-keys.ts';
import { UpstreamCredentials1764300100000 } from './migrations/1764300100000-upstream-credentials.ts';
import { Identity1764310000000 } from './migrations/1764310000000-identity.ts';
import { UpstreamOauth1764320000000 } from './migrations/1764320000000-upstream-oauth.ts';
import { AuditTimeIndex1764320500000 } from './migrations/1764320500000-audit-time-index.ts';
import { MeshStatus1764330000000 } from './migrations/1764330000000-mesh-status.ts';
import { FilterSecrets1764340000000 } from './migrations/1764340000000-filter-secrets.ts';
import { AccountSetupTokens1764350000000 } from './migrations/1764350000000-account-setup-tokens.ts';
import { SseServers1764360000000 } from './migrations/1764360000000-sse-servers.ts';

export async function openDataSource(url: string): Promise<DataSource> {
  const ds = new DataSource({
    type: 'postgres',
    url,
    entities: [
      McpServerEntity,
      SigningKeyEntity,
      AuditEventEntity,
      ApiKeyEntity,
      UpstreamCredentialEntity,
      FilterSecretEntity,
    ],
    migrations: [
      InitialSchema1764000000000,
      AuditTraceId1764100000000,
      ServerPolicyAuditDecisions1764200000000,
      ApiKeys1764300000000,
      UpstreamCredentials1764300100000,
      Identity1764310000000,
      UpstreamOauth1764320000000,
      AuditTimeIndex1764320500000,
      MeshStatus1764330000000,
      FilterSecrets1764340000000,
      AccountSetupTokens1764350000000,
      SseServers1764360000000,
    ],
    migrationsTableName: 'tessera_migrations',
    synchronize: false,
    logging: ['error'],
    extra: { max: 10, connectionTimeoutMillis: 10_000 },
  });
  await ds.initialize();
  // Several replicas may start at once; TypeORM runs pending migrations in one transaction.
  await ds.runMigrations({ transaction: 'all' });
  return ds;
}
