import { Migrator, type Kysely, type Migration } from 'kysely';
import type { Database, Dialect } from '../schema.js';
import { initialSchema } from './001-initial.js';
import { eventStreams } from './002-event-streams.js';
import { outboxOrderingIndex } from './003-outbox-ordering-index.js';
import { currentVersionOnce } from './004-current-version-once.js';
import { pendingIndex } from './005-pending-index.js';
import { accessTokens } from './006-access-tokens.js';
import { outboxUnfinishedIndex } from './007-outbox-unfinished-index.js';
import { outboxPartialIndexes } from './008-outbox-partial-indexes.js';
import { outboxDeliveredIndex } from './009-outbox-delivered-index.js';
import { streamEventsAge } from './010-stream-events-age.js';
import { auditTrail } from './011-audit-trail.js';
import { tenantPendingIndex } from './012-tenant-pending-index.js';
import { auditRetention } from './013-audit-retention.js';
import { bookkeepingTables } from './019-bookkeeping-tables.js';
import { transferPerson } from './022-transfer-person.js';
import { deziInClear } from './024-dezi-in-clear.js';

/** The schema's history, in order. Add a migration by appending it; never edit one that has shipped. */
export function migrations(dialect: Dialect): Record<string, Migration> {
  return {
    '001-initial': initialSchema(dialect),
    '002-event-streams': eventStreams(dialect),
    '003-outbox-ordering-index': outboxOrderingIndex(),
    '004-current-version-once': currentVersionOnce(),
    '005-pending-index': pendingIndex(dialect),
    '006-access-tokens': accessTokens(dialect),
    '007-outbox-unfinished-index': outboxUnfinishedIndex(),
    '008-outbox-partial-indexes': outboxPartialIndexes(),
    '009-outbox-delivered-index': outboxDeliveredIndex(),
    '010-stream-events-age': streamEventsAge(),
    '011-audit-trail': auditTrail(dialect),
    '012-tenant-pending-index': tenantPendingIndex(dialect),
    '013-audit-retention': auditRetention(),
    '019-bookkeeping-tables': bookkeepingTables(dialect),
    '022-transfer-person': transferPerson(),
    '024-dezi-in-clear': deziInClear(),
  };
}

/** Brings the database up to date; on PostgreSQL kysely holds an advisory lock, so concurrent instances wait. */
export async function migrate(db: Kysely<Database>, dialect: Dialect, schema?: string): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(dialect) },
    ...(schema !== undefined ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName;
    throw new Error(`Database migration ${failed ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}
