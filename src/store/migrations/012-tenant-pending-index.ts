import type { Kysely, Migration } from 'kysely';
import type { Dialect } from '../schema.js';

/**
 * The deferred index queue names each resource's tenant, so a search indexes only what its own tenant can see (one
 * tenant's backlog no longer holds up another's searches); the queue is built anew, its rows keeping their place
 * and taking the tenant of their resource. Resources that cannot be indexed are set aside in a table of their own,
 * with the reason and when, instead of staying at the head of the queue.
 */
export function tenantPendingIndex(dialect: Dialect): Migration {
  const rid = dialect === 'sqlite' ? 'integer' : 'bigint';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('pending_index_by_tenant')
        // On SQLite an INTEGER PRIMARY KEY is the row id: the queue stays a single b-tree.
        .addColumn('rid', rid, (c) => c.primaryKey().references('resources.rid'))
        .addColumn('tenant', 'text', (c) => c.notNull())
        .execute();
      await db
        .insertInto('pending_index_by_tenant')
        .columns(['rid', 'tenant'])
        .expression(db.selectFrom('pending_index as p').innerJoin('resources as r', 'r.rid', 'p.rid').select(['p.rid', 'r.tenant']))
        .execute();
      await db.schema.dropTable('pending_index').execute();
      await db.schema.alterTable('pending_index_by_tenant').renameTo('pending_index').execute();
      await db.schema
        .createTable('unindexable_resources')
        .addColumn('rid', rid, (c) => c.primaryKey().references('resources.rid'))
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('set_aside_at', 'bigint', (c) => c.notNull())
        .execute();
    },
  };
}
