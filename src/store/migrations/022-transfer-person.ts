import type { Kysely, Migration } from 'kysely';

/**
 * Inbound transfer records remember the person the receiving EHR named when it last acted on the transfer (JSON
 * `{identifier, name, role?}`), so that the pulls it causes carry that person to the sender (transfer/receiver.ts).
 */
export function transferPerson(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('transfer_records').addColumn('person', 'text').execute();
    },
  };
}
