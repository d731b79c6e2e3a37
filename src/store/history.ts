import { sql, type Kysely } from 'kysely';
import { badRequest, OperationOutcomeError } from '../fhir/outcome.js';
import { ResponseBudget } from '../fhir/response-budget.js';
import type { Resource } from '../fhir/version.js';
import { allWithinBudget, contentBytes } from './budgeted-read.js';
import { historyPosition, parseHistoryPosition, type HistoryEntry, type HistoryRequest } from '../fhir/history.js';
import type { Scope } from './repository.js';
import { toInstant } from './context.js';
import type { Database } from './schema.js';

/**
 * History newest first: the current versions (in `resources`) and the superseded ones (in `resource_history`),
 * each side read through its own index up to `count` rows, then merged. Versions of one millisecond come in the
 * order they were written (their `seq`). Within a response budget, the versions are sized first and their JSON read
 * only if all of them fit; a history that does not is too-costly (it has no next page to stop short with).
 */
export async function readHistory(
  db: Kysely<Database>,
  scope: Scope,
  request: HistoryRequest,
  budget = ResponseBudget.unlimited(),
): Promise<HistoryEntry[]> {
  if (request.id !== undefined && request.resourceType === undefined) {
    throw new OperationOutcomeError(badRequest('Instance history needs the resource type'));
  }
  const since = request.since === undefined ? undefined : Date.parse(request.since);
  if (since !== undefined && Number.isNaN(since)) {
    throw new OperationOutcomeError(badRequest(`_since '${request.since}' is not an instant`, '_since'));
  }
  const after = request.after === undefined ? undefined : parseHistoryPosition(request.after);
  if (request.after !== undefined && after === undefined) {
    throw new OperationOutcomeError(badRequest(`History position '${request.after}' is not one this server gave`, '_cursor'));
  }
  const count = Math.max(0, request.count);
  const versions = (table: 'resources' | 'resource_history') =>
    db
      .selectFrom(table)
      .select(['resource_type', 'id', 'version_id', 'last_updated', 'method', 'seq'])
      .select([sql.ref<number>(table === 'resources' ? 'rid' : 'hid').as('row'), sql.lit(table).as('source'), contentBytes('content').as('bytes')])
      .where('tenant', '=', scope.tenant)
      .where('fhir_version', '=', scope.version)
      .$if(request.resourceType !== undefined, (q) => q.where('resource_type', '=', request.resourceType as string))
      .$if(request.id !== undefined, (q) => q.where('id', '=', request.id as string))
      .$if(since !== undefined, (q) => q.where('last_updated', '>=', since as number))
      .$if(after !== undefined, (q) =>
        q.where((eb) =>
          eb.or([
            eb('last_updated', '<', after!.lastUpdatedMs),
            eb.and([eb('last_updated', '=', after!.lastUpdatedMs), eb('seq', '<', after!.seq)]),
          ]),
        ),
      )
      .orderBy('last_updated', 'desc')
      .orderBy('seq', 'desc')
      .limit(count);
  const rows = await db
    .selectFrom((eb) =>
      eb
        .selectFrom(versions('resources').as('c'))
        .selectAll()
        .unionAll(eb.selectFrom(versions('resource_history').as('h')).selectAll())
        .as('v'),
    )
    .selectAll()
    .$if(request.id !== undefined, (q) => q.orderBy('version_id', 'desc'))
    .orderBy('last_updated', 'desc')
    .orderBy('seq', 'desc')
    .limit(count)
    .execute();
  const versionsRead = allWithinBudget(
    budget,
    rows.map((row) => ({ ...row, rid: row.row, bytes: Number(row.bytes ?? 0) })),
    `The ${rows.length} versions of this history`,
  );
  const contents = await versionContents(db, scope, versionsRead);
  return versionsRead.map((row, index) => {
    const entry: HistoryEntry = {
      resourceType: row.resource_type,
      id: row.id,
      versionId: String(row.version_id),
      lastUpdated: toInstant(Number(row.last_updated)),
      method: row.method,
      position: historyPosition(Number(row.last_updated), Number(row.seq)),
    };
    const content = contents[index];
    if (content !== null) entry.resource = JSON.parse(content) as Resource;
    return entry;
  });
}

interface VersionRow {
  resource_type: string;
  id: string;
  version_id: number;
  source: string;
  rid: number;
}

/**
 * The JSON of each version, by the row it was found in. A current version superseded in between has moved to the
 * history table: it is read there by its key.
 */
async function versionContents(db: Kysely<Database>, scope: Scope, versions: VersionRow[]): Promise<(string | null)[]> {
  const ofSource = (source: string) => versions.filter((version) => version.source === source).map((version) => Number(version.rid));
  const current = ofSource('resources');
  const superseded = ofSource('resource_history');
  const [currentRows, historyRows] = await Promise.all([
    current.length === 0 ? [] : db.selectFrom('resources').select(['rid', 'version_id', 'content']).where('rid', 'in', current).execute(),
    superseded.length === 0 ? [] : db.selectFrom('resource_history').select(['hid', 'content']).where('hid', 'in', superseded).execute(),
  ]);
  const currentByRid = new Map(currentRows.map((row) => [Number(row.rid), row]));
  const historyByHid = new Map(historyRows.map((row) => [Number(row.hid), row.content]));
  const contents: (string | null)[] = [];
  for (const version of versions) {
    if (version.source === 'resource_history') {
      contents.push(historyByHid.get(Number(version.rid)) ?? null);
      continue;
    }
    const row = currentByRid.get(Number(version.rid));
    contents.push(row?.version_id === version.version_id ? row.content : await movedToHistory(db, scope, version));
  }
  return contents;
}

async function movedToHistory(db: Kysely<Database>, scope: Scope, version: VersionRow): Promise<string | null> {
  const row = await db
    .selectFrom('resource_history')
    .select('content')
    .where('tenant', '=', scope.tenant)
    .where('fhir_version', '=', scope.version)
    .where('resource_type', '=', version.resource_type)
    .where('id', '=', version.id)
    .where('version_id', '=', version.version_id)
    .executeTakeFirst();
  return row?.content ?? null;
}
