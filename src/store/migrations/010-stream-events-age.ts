import type { Kysely, Migration } from 'kysely';

/** Events by age, so the retention job deletes the oldest without reading the rest (jobs/retention.ts). */
export function streamEventsAge(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('stream_events_created').on('stream_events').column('created_at').execute();
    },
  };
}
