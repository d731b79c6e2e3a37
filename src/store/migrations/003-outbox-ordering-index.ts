import type { Kysely, Migration } from 'kysely';

/**
 * Ordered outbox claims ask, per due message, whether an older message with its ordering key is still unfinished.
 * With the status in the index that is two index seeks, instead of a walk over every message the key ever had (a
 * subscription's whole delivered history).
 */
export function outboxOrderingIndex(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.createIndex('outbox_ordering_unfinished').on('outbox').columns(['tenant', 'ordering_key', 'status', 'seq']).execute();
    },
  };
}
