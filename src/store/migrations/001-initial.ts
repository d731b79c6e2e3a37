import { sql, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/** Resources, history, search indexes, outbox and replay cache. */
export function initialSchema(dialect: Dialect): Migration {
  // PostgreSQL compares index text byte-wise (collation "C") so prefix ranges mean the same as in SQLite.
  const indexText = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer';
  const real = dialect === 'postgres' ? 'double precision' : 'real';

  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('resources')
        .addColumn('rid', serial, (c) => c.primaryKey())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('fhir_version', 'text', (c) => c.notNull())
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('version_id', 'integer', (c) => c.notNull())
        .addColumn('last_updated', 'bigint', (c) => c.notNull())
        .addColumn('deleted', 'integer', (c) => c.notNull())
        .addColumn('content', 'text')
        .addUniqueConstraint('resources_key', ['tenant', 'fhir_version', 'resource_type', 'id'])
        .execute();
      await db.schema
        .createIndex('resources_last_updated')
        .on('resources')
        .columns(['tenant', 'fhir_version', 'resource_type', 'last_updated'])
        .execute();

      await db.schema
        .createTable('resource_history')
        .addColumn('hid', serial, (c) => c.primaryKey())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('fhir_version', 'text', (c) => c.notNull())
        .addColumn('resource_type', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('version_id', 'integer', (c) => c.notNull())
        .addColumn('last_updated', 'bigint', (c) => c.notNull())
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('content', 'text')
        .addUniqueConstraint('resource_history_key', ['tenant', 'fhir_version', 'resource_type', 'id', 'version_id'])
        .execute();
      // Type and instance history are served from indexes; whole-tenant history (no REST route) filters this one.
      await db.schema
        .createIndex('resource_history_type')
        .on('resource_history')
        .columns(['tenant', 'fhir_version', 'resource_type', 'last_updated', 'hid'])
        .execute();

      // Index tables are keyed by resource first (replacing a resource's entries is one range delete) and looked up
      // through a second index: scope and parameter first, then the value, then the resource, so a lookup by value
      // yields resources in rid order and checking one resource against a criterion is a single probe. On SQLite
      // they are WITHOUT ROWID: the key is the table, one b-tree fewer per write.
      const indexTables: [string, [string, unknown][], string[], string[]][] = [
        ['search_token', [['system', indexText], ['code', indexText]], ['system', 'code'], ['code', 'system']],
        ['search_string', [['normalized', indexText], ['exact', 'text']], ['exact'], ['normalized']],
        ['search_reference', [['reference', indexText]], ['reference'], ['reference']],
        ['search_date', [['start_ms', 'bigint'], ['end_ms', 'bigint']], ['start_ms', 'end_ms'], ['start_ms']],
        ['search_number', [['value', real], ['system', indexText], ['code', indexText]], ['value', 'system', 'code'], ['value']],
        ['search_uri', [['uri', indexText]], ['uri'], ['uri']],
      ];
      for (const [table, valueColumns, keyColumns, lookupColumns] of indexTables) {
        let create = db.schema
          .createTable(table)
          .addColumn('rid', 'bigint', (c) => c.notNull().references('resources.rid'))
          .addColumn('param', 'text', (c) => c.notNull())
          .addColumn('tenant', 'text', (c) => c.notNull())
          .addColumn('fhir_version', 'text', (c) => c.notNull())
          .addColumn('resource_type', 'text', (c) => c.notNull());
        for (const [column, type] of valueColumns) create = create.addColumn(column, type as 'text', (c) => c.notNull());
        await create
          .addPrimaryKeyConstraint(`${table}_key`, ['rid', 'param', ...keyColumns] as never)
          .$call((q) => (dialect === 'sqlite' ? q.modifyEnd(sql`without rowid`) : q))
          .execute();
        await db.schema
          .createIndex(`${table}_lookup`)
          .on(table)
          .columns(['tenant', 'fhir_version', 'resource_type', 'param', ...lookupColumns, 'rid'])
          .execute();
      }
      await db.schema
        .createTable('outbox')
        .addColumn('seq', serial, (c) => c.primaryKey())
        .addColumn('id', 'text', (c) => c.notNull().unique())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('destination', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('ordering_key', 'text')
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_error', 'text')
        .execute();
      await db.schema.createIndex('outbox_due').on('outbox').columns(['status', 'next_attempt_at']).execute();
      await db.schema.createIndex('outbox_ordering').on('outbox').columns(['tenant', 'ordering_key', 'seq']).execute();
      await db.schema.createIndex('outbox_tenant').on('outbox').columns(['tenant', 'seq']).execute();

      await db.schema
        .createTable('replay_keys')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('replay_keys_expiry').on('replay_keys').column('expires_at').execute();
    },
  };
}
