import { sql, type Kysely, type Migration } from 'kysely';

/**
 * The unfinished messages in queue order (a partial index: delivered and dead ones leave it). A claim walks it from
 * the oldest and stops at the batch size, so its cost follows the batch, not the backlog: by the due-time index it
 * had to look at every unfinished message and sort them, which at 30,000 queued notifications took most of the
 * dispatcher's time.
 */
export function outboxUnfinishedIndex(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('outbox_unfinished').on('outbox').column('seq').where(sql.ref('status'), 'in', ['pending', 'in-flight']).execute();
    },
  };
}
