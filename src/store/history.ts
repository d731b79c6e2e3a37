import type { Kysely } from 'kysely';
import { badRequest, OperationOutcomeError } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import type { HistoryEntry, HistoryRequest, Scope } from './repository.js';
import { toInstant } from './context.js';
import type { Database } from './schema.js';

/**
 * History newest first: the current versions (in `resources`) and the superseded ones (in `resource_history`),
 * each side read through its own index up to `count` rows, then merged. Versions of one millisecond come in the
 * order they were written (their `seq`).
 */
export async function readHistory(db: Kysely<Database>, scope: Scope, request: HistoryRequest): Promise<HistoryEntry[]> {
  if (request.id !== undefined && request.resourceType === undefined) {
    throw new OperationOutcomeError(badRequest('Instance history needs the resource type'));
  }
  const since = request.since === undefined ? undefined : Date.parse(request.since);
  if (since !== undefined && Number.isNaN(since)) {
    throw new OperationOutcomeError(badRequest(`_since '${request.since}' is not an instant`, '_since'));
  }
  const count = Math.max(0, request.count);
  const versions = (table: 'resources' | 'resource_history') =>
    db
      .selectFrom(table)
      .select(['resource_type', 'id', 'version_id', 'last_updated', 'method', 'seq', 'content'])
      .where('tenant', '=', scope.tenant)
      .where('fhir_version', '=', scope.version)
      .$if(request.resourceType !== undefined, (q) => q.where('resource_type', '=', request.resourceType as string))
      .$if(request.id !== undefined, (q) => q.where('id', '=', request.id as string))
      .$if(since !== undefined, (q) => q.where('last_updated', '>=', since as number))
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
  return rows.map((row) => {
    const entry: HistoryEntry = {
      resourceType: row.resource_type,
      id: row.id,
      versionId: String(row.version_id),
      lastUpdated: toInstant(Number(row.last_updated)),
      method: row.method,
    };
    if (row.content !== null) entry.resource = JSON.parse(row.content) as Resource;
    return entry;
  });
}
