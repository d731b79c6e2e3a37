import type { IndexEntries } from '../fhir/search/index.js';
import type { FhirVersion } from '../fhir/version.js';
import type { StoreContext } from './context.js';
import type { Database, IndexTable } from './schema.js';

const INDEX_TABLES: IndexTable[] = ['search_token', 'search_string', 'search_reference', 'search_date', 'search_number', 'search_uri'];

/** One resource version's index entries, and whose they are. */
export interface IndexedResource {
  rid: number;
  tenant: string;
  version: FhirVersion;
  resourceType: string;
  entries: IndexEntries;
}

/** A resource version that cannot be indexed, and why. */
export interface SetAsideResource extends Omit<IndexedResource, 'entries'> {
  id: string;
  reason: string;
}

const SCOPE_COLUMNS = ['rid', 'param', 'tenant', 'fhir_version', 'resource_type'] as const;

/** Writes the index entries of one or many resources: multi-row INSERTs per table (CompiledStatements.insert). */
export async function insertIndexEntries(context: Pick<StoreContext, 'statements'>, resources: IndexedResource[]): Promise<void> {
  const rowsOf = <E>(pick: (entries: IndexEntries) => E[], values: (entry: E) => unknown[]) =>
    resources.flatMap((r) => pick(r.entries).map((entry) => [r.rid, (entry as { param: string }).param, r.tenant, r.version, r.resourceType, ...values(entry)]));
  const write = async <T extends IndexTable>(table: T, columns: (keyof Database[T] & string)[], rows: unknown[][]) => {
    await context.statements.insert(table, [...SCOPE_COLUMNS, ...columns], rows);
  };
  await write('search_token', ['system', 'code'], rowsOf((e) => e.token, (e) => [e.system, e.code]));
  await write('search_string', ['normalized', 'exact'], rowsOf((e) => e.string, (e) => [e.normalized, e.exact]));
  await write('search_reference', ['reference'], rowsOf((e) => e.reference, (e) => [e.reference]));
  await write('search_date', ['start_ms', 'end_ms'], rowsOf((e) => e.date, (e) => [e.start, e.end]));
  await write('search_number', ['value', 'system', 'code'], rowsOf((e) => e.number, (e) => [e.value, e.system, e.code]));
  await write('search_uri', ['uri'], rowsOf((e) => e.uri, (e) => [e.uri]));
}

/** Notes resources as not indexed (unindexable_resources), with the reason: an operator sees them there and in the log. */
export async function setAside(context: Pick<StoreContext, 'statements'>, resources: SetAsideResource[]): Promise<void> {
  const now = Date.now();
  await context.statements.insert(
    'unindexable_resources',
    ['rid', 'tenant', 'reason', 'set_aside_at'],
    resources.map((resource) => [resource.rid, resource.tenant, resource.reason, now]),
  );
}

/** Drops a resource's index entries, and the note that it could not be indexed, before a new version or a deletion. */
export async function deleteIndexEntries(context: StoreContext, rid: number): Promise<void> {
  for (const table of [...INDEX_TABLES, 'unindexable_resources'] as const) {
    await context.statements.run(`delete-index|${table}`, (db, slot) => db.deleteFrom(table).where('rid', '=', slot(0)), [rid]);
  }
}
