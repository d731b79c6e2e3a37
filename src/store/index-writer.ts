import type { IndexEntries } from '../fhir/search/index.js';
import type { FhirVersion } from '../fhir/version.js';
import type { StoreContext } from './context.js';
import type { Database, IndexTable } from './schema.js';

const INDEX_TABLES: IndexTable[] = ['search_token', 'search_string', 'search_reference', 'search_date', 'search_number', 'search_uri'];
/** Rows per INSERT: well inside both engines' limits on bound parameters. */
const ROWS_PER_INSERT = 500;

interface IndexScope {
  tenant: string;
  version: FhirVersion;
  resourceType: string;
}

const SCOPE_COLUMNS = ['rid', 'param', 'tenant', 'fhir_version', 'resource_type'] as const;

/** Writes a resource version's index entries, one multi-row INSERT per table. */
export async function insertIndexEntries(context: StoreContext, scope: IndexScope, rid: number, entries: IndexEntries): Promise<void> {
  const row = (param: string, ...values: unknown[]) => [rid, param, scope.tenant, scope.version, scope.resourceType, ...values];
  const write = async <T extends IndexTable>(table: T, columns: (keyof Database[T] & string)[], rows: unknown[][]) => {
    for (let start = 0; start < rows.length; start += ROWS_PER_INSERT) {
      await context.statements.insert(table, [...SCOPE_COLUMNS, ...columns], rows.slice(start, start + ROWS_PER_INSERT));
    }
  };
  await write('search_token', ['system', 'code'], entries.token.map((e) => row(e.param, e.system, e.code)));
  await write('search_string', ['normalized', 'exact'], entries.string.map((e) => row(e.param, e.normalized, e.exact)));
  await write('search_reference', ['reference'], entries.reference.map((e) => row(e.param, e.reference)));
  await write('search_date', ['start_ms', 'end_ms'], entries.date.map((e) => row(e.param, e.start, e.end)));
  await write('search_number', ['value', 'system', 'code'], entries.number.map((e) => row(e.param, e.value, e.system, e.code)));
  await write('search_uri', ['uri'], entries.uri.map((e) => row(e.param, e.uri)));
}

export async function deleteIndexEntries(context: StoreContext, rid: number): Promise<void> {
  for (const table of INDEX_TABLES) {
    await context.statements.run(`delete-index|${table}`, (db, slot) => db.deleteFrom(table).where('rid', '=', slot(0)), [rid]);
  }
}
