import { sql, type Kysely, type Migration } from 'kysely';

/**
 * The ordering check of a claim (is an older message of the same key unfinished?) reads a partial index of the
 * unfinished messages by key, which a claim does not change (pending and in-flight are both in it) and delivery only
 * shrinks. It replaces the index with the status in its key, whose entries moved on every claim and every
 * completion, and the index over each key's whole history. The due-time index goes: claims walk `outbox_unfinished`.
 */
export function outboxPartialIndexes(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createIndex('outbox_unfinished_by_key')
        .on('outbox')
        .columns(['tenant', 'ordering_key', 'seq'])
        .where(sql.ref('status'), 'in', ['pending', 'in-flight'])
        .execute();
      for (const index of ['outbox_ordering_unfinished', 'outbox_ordering', 'outbox_due']) await db.schema.dropIndex(index).execute();
    },
  };
}
