import { sql, type Kysely, type Migration } from 'kysely';

/**
 * The current version of a resource is kept once, in `resources`; `resource_history` holds only the versions a
 * later write superseded (a create writes one row instead of two, and its JSON once). `resources` gains the
 * version's `method`, and both tables a `seq` that orders versions of the same millisecond (see sequence.ts; rows
 * written before take their history row's `hid`, which kept that order until now).
 */
export function currentVersionOnce(): Migration {
  return {
    async up(db: Kysely<any>) {
      await db.schema.alterTable('resources').addColumn('method', 'text', (c) => c.notNull().defaultTo('PUT')).execute();
      await db.schema.alterTable('resources').addColumn('seq', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
      await db.schema.alterTable('resource_history').addColumn('seq', 'bigint', (c) => c.notNull().defaultTo(0)).execute();
      await sql`update resource_history set seq = hid`.execute(db);
      const sameVersion = sql`h.tenant = resources.tenant and h.fhir_version = resources.fhir_version
        and h.resource_type = resources.resource_type and h.id = resources.id and h.version_id = resources.version_id`;
      await sql`update resources set
          method = coalesce((select h.method from resource_history h where ${sameVersion}), 'PUT'),
          seq = coalesce((select h.hid from resource_history h where ${sameVersion}), 0)`.execute(db);
      await sql`delete from resource_history where exists (select 1 from resources r
          where r.tenant = resource_history.tenant and r.fhir_version = resource_history.fhir_version
          and r.resource_type = resource_history.resource_type and r.id = resource_history.id
          and r.version_id = resource_history.version_id)`.execute(db);
    },
  };
}
