import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/** The queue of resources whose index entries are written in batches, after them (see deferred-index.ts). */
export function pendingIndex(dialect: Dialect): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('pending_index')
        // On SQLite an INTEGER PRIMARY KEY is the row id: the queue is a single b-tree.
        .addColumn('rid', dialect === 'sqlite' ? 'integer' : 'bigint', (c) => c.primaryKey().references('resources.rid'))
        .execute();
    },
  };
}
