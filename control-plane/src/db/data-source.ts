/**
 * The TypeORM data source. The schema changes only through migrations, which run at start
 * (`synchronize` is never used).
 *
 * @module
 */
import { DataSource } from 'typeorm';
import { AuditEventEntity } from './entities/audit-event.ts';
import { McpServerEntity } from './entities/mcp-server.ts';
import { SigningKeyEntity } from './entities/signing-key.ts';
import { InitialSchema1764000000000 } from './migrations/1764000000000-initial-schema.ts';
import { AuditTraceId1764100000000 } from './migrations/1764100000000-audit-trace-id.ts';
import { MeshStatus1764300000000 } from './migrations/1764300000000-mesh-status.ts';

export async function openDataSource(url: string): Promise<DataSource> {
  const ds = new DataSource({
    type: 'postgres',
    url,
    entities: [McpServerEntity, SigningKeyEntity, AuditEventEntity],
    migrations: [InitialSchema1764000000000, AuditTraceId1764100000000, MeshStatus1764300000000],
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
