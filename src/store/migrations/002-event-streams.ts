import { sql, type CreateTableBuilder, type Kysely, type Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/** Numbered event streams (subscription events): one head row per stream, one row per event, keyed by number. */
export function eventStreams(dialect: Dialect): Migration {
  // On SQLite the key is the table (WITHOUT ROWID): one b-tree per table.
  const keyedByPrimaryKey = <T extends string>(table: CreateTableBuilder<T, never>) =>
    dialect === 'sqlite' ? table.modifyEnd(sql`without rowid`) : table;
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('stream_heads')
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('stream', 'text', (c) => c.notNull())
        .addColumn('last_number', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('stream_heads_key', ['tenant', 'stream'])
        .$call(keyedByPrimaryKey)
        .execute();
      await db.schema
        .createTable('stream_events')
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('stream', 'text', (c) => c.notNull())
        .addColumn('number', 'bigint', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('stream_events_key', ['tenant', 'stream', 'number'])
        .$call(keyedByPrimaryKey)
        .execute();
    },
  };
}
