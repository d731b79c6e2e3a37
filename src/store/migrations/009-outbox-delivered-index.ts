import { sql, type Kysely, type Migration } from 'kysely';

/** The delivered messages by age, so the retention job deletes the oldest without reading the rest (outbox/retention.ts). */
export function outboxDeliveredIndex(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('outbox_delivered').on('outbox').column('created_at').where(sql.ref('status'), '=', 'delivered').execute();
    },
  };
}
