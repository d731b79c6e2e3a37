import { sql, type Kysely, type Migration } from 'kysely';

/**
 * The audit trail gets a retention (jobs/retention.ts): an index of events by age across tenants, for
 * `audit.retentionDays`; a flag for events whose requester was claimed, not verified, with an index of their own age,
 * for `audit.unverifiedRetentionDays`; and an index of references by event, so that an event's references go with
 * it. Events written before are unflagged: the refusals among them named their claimed requester, verified or not,
 * and cannot be told apart now, so they stay under the trail's general retention.
 */
export function auditRetention(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('audit_events').addColumn('unverified', 'integer', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.createIndex('audit_events_age').on('audit_events').column('recorded').execute();
      await db.schema.createIndex('audit_events_unverified_age').on('audit_events').column('recorded').where(sql.ref('unverified'), '=', 1).execute();
      await db.schema.createIndex('audit_references_event').on('audit_references').column('seq').execute();
    },
  };
}
