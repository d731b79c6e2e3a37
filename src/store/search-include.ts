import type { Kysely } from 'kysely';
import type { ResponseBudget } from '../fhir/response-budget.js';
import type { Resource } from '../fhir/version.js';
import { allWithinBudget, contentBytes, contentsOf, type Match } from './budgeted-read.js';
import type { SearchRequest } from '../fhir/search/types.js';
import type { Scope } from './repository.js';
import type { Database } from './schema.js';

const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

/** Resources referring to a page's matches are read this many at a time (by rid), each batch within the budget. */
const REVINCLUDE_BATCH = 500;

const INCLUDED = 'The resources _include/_revinclude adds to this page';

/**
 * `_include` and `_revinclude`: the resources the matches refer to, and those referring to the matches. They count
 * against the response budget like the matches; a page whose includes do not fit is refused (too-costly).
 */
export async function included(db: Kysely<Database>, scope: Scope, request: SearchRequest, matches: Match[], budget: ResponseBudget): Promise<Resource[]> {
  if (matches.length === 0 || (request.include.length === 0 && request.revinclude.length === 0)) return [];
  const seen = new Set(matches.map((m) => m.rid));
  const found: Resource[] = [];
  /** The candidates not gathered yet, within the budget, read. */
  const add = async (candidates: { rid: number; bytes: number }[]) => {
    const fresh = candidates.filter((candidate) => !seen.has(Number(candidate.rid)));
    for (const candidate of fresh) seen.add(Number(candidate.rid));
    const taken = allWithinBudget(budget, fresh, INCLUDED);
    found.push(...(await contentsOf(db, taken.map((candidate) => Number(candidate.rid)))).map((m) => m.resource));
  };

  for (const include of request.include) {
    const [, code, targetType] = include.split(':');
    // The matches' rids are this scope's already; reading by key (rid, param) is the fast path.
    const rows = await db
      .selectFrom('search_reference')
      .select('reference')
      .distinct()
      .where('rid', 'in', matches.map((m) => m.rid))
      .where('param', '=', code)
      .execute();
    const targets = rows
      .map((row) => RELATIVE_REFERENCE.exec(row.reference))
      .filter((m): m is RegExpExecArray => m !== null && (targetType === undefined || m[1] === targetType));
    await add(await currentRows(db, scope, targets.map((m) => ({ resourceType: m[1], id: m[2] }))));
  }

  for (const revinclude of request.revinclude) {
    const [sourceType, code] = revinclude.split(':');
    const references = matches.map((m) => `${m.resource.resourceType}/${m.resource.id}`);
    for (let after = 0; ; ) {
      const rows = await db
        .selectFrom('resources as r')
        .select(['r.rid', contentBytes('r.content').as('bytes')])
        .where('r.deleted', '=', 0)
        .where('r.rid', '>', after)
        .where('r.rid', 'in', (eb) =>
          eb
            .selectFrom('search_reference')
            .select('rid')
            .where('tenant', '=', scope.tenant)
            .where('fhir_version', '=', scope.version)
            .where('resource_type', '=', sourceType)
            .where('param', '=', code)
            .where('reference', 'in', references),
        )
        .orderBy('r.rid')
        .limit(REVINCLUDE_BATCH)
        .execute();
      await add(rows);
      if (rows.length < REVINCLUDE_BATCH) break;
      after = Number(rows[rows.length - 1].rid);
    }
  }
  return found;
}

/** The rows (rid and size) of the current resources with these keys. */
async function currentRows(db: Kysely<Database>, scope: Scope, keys: { resourceType: string; id: string }[]) {
  const idsByType = new Map<string, string[]>();
  for (const key of keys) idsByType.set(key.resourceType, [...(idsByType.get(key.resourceType) ?? []), key.id]);
  const rows: { rid: number; bytes: number }[] = [];
  for (const [resourceType, ids] of idsByType) {
    rows.push(
      ...(await db
        .selectFrom('resources')
        .select(['rid', contentBytes('content').as('bytes')])
        .where('tenant', '=', scope.tenant)
        .where('fhir_version', '=', scope.version)
        .where('resource_type', '=', resourceType)
        .where('id', 'in', ids)
        .where('deleted', '=', 0)
        .execute()),
    );
  }
  return rows;
}
