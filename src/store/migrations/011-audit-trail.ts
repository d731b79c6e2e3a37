import { sql, type Kysely, type Migration } from 'kysely';
import { auditTrailRows } from '../audit-rows.js';
import type { Dialect } from '../schema.js';

/** AuditEvents moved over per statement: a few hundred JSON documents in memory at a time. */
const MOVE_BATCH = 500;
const INDEX_TABLES = ['search_token', 'search_string', 'search_reference', 'search_date', 'search_number', 'search_uri'];

/**
 * The audit trail leaves the resource store for two append-only tables of its own (see audit-trail.ts): the events,
 * with their single-valued search columns, and the references they name (agents, entities, patients). The R4
 * AuditEvents stored so far move over, oldest first, and their rows, history and index entries are dropped.
 */
export function auditTrail(dialect: Dialect): Migration {
  const serial = dialect === 'postgres' ? 'bigserial' : 'integer';
  return {
    async up(db: Kysely<any>) {
      await db.schema
        .createTable('audit_events')
        .addColumn('seq', serial, (c) => c.primaryKey())
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('recorded', 'bigint', (c) => c.notNull())
        .addColumn('type_system', 'text')
        .addColumn('type_code', 'text')
        .addColumn('subtype_system', 'text')
        .addColumn('subtype_code', 'text')
        .addColumn('outcome', 'text')
        .addColumn('content', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_events_id').unique().on('audit_events').columns(['tenant', 'id']).execute();
      await db.schema.createIndex('audit_events_recorded').on('audit_events').columns(['tenant', 'recorded']).execute();
      await db.schema
        .createTable('audit_references')
        .addColumn('tenant', 'text', (c) => c.notNull())
        .addColumn('param', 'text', (c) => c.notNull())
        .addColumn('value', 'text', (c) => c.notNull())
        .addColumn('system', 'text', (c) => c.notNull())
        .addColumn('seq', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('audit_references_key', ['tenant', 'param', 'value', 'system', 'seq'] as never)
        // On SQLite the key is the table (WITHOUT ROWID): one b-tree per reference.
        .$call((table) => (dialect === 'sqlite' ? table.modifyEnd(sql`without rowid`) : table))
        .execute();
      await moveStoredAuditEvents(db);
    },
  };
}

async function moveStoredAuditEvents(db: Kysely<any>): Promise<void> {
  for (let after = 0; ; ) {
    const batch: { rid: number | string; tenant: string; content: string }[] = await db
      .selectFrom('resources')
      .select(['rid', 'tenant', 'content'])
      .where('resource_type', '=', 'AuditEvent')
      .where('fhir_version', '=', 'r4')
      .where('deleted', '=', 0)
      .where('rid', '>', after)
      .orderBy('rid')
      .limit(MOVE_BATCH)
      .execute();
    if (batch.length === 0) break;
    for (const row of batch) {
      const { event, references } = auditTrailRows(row.tenant, JSON.parse(row.content));
      const [{ seq }] = await db.insertInto('audit_events').values(event).returning('seq').execute();
      if (references.length > 0) await db.insertInto('audit_references').values(references.map((reference) => ({ ...reference, seq }))).execute();
    }
    after = Number(batch[batch.length - 1].rid);
  }
  const auditEvents = db.selectFrom('resources').select('rid').where('resource_type', '=', 'AuditEvent').where('fhir_version', '=', 'r4');
  for (const table of [...INDEX_TABLES, 'pending_index']) await db.deleteFrom(table).where('rid', 'in', auditEvents).execute();
  for (const table of ['resource_history', 'resources']) {
    await db.deleteFrom(table).where('resource_type', '=', 'AuditEvent').where('fhir_version', '=', 'r4').execute();
  }
}
