import { sql, type Expression, type Kysely } from 'kysely';
import { searchParameter, type SearchParameter } from '../fhir/search/registry.js';
import type { SearchRequest, SearchResult, SortRule } from '../fhir/search/types.js';
import type { Scope } from './repository.js';
import type { StoreContext } from './context.js';
import type { Database } from './schema.js';
import { criterion, tableOf, type Criterion, type IndexCriterion, type Predicate, type ResourceQuery, type SearchTables } from './search-criteria.js';
import { DeferredIndex } from './deferred-index.js';
import { included } from './search-include.js';
import { contentBytes, contentsOf, withinBudget, type Match } from './budgeted-read.js';
import { ResponseBudget } from '../fhir/response-budget.js';

/**
 * Turns a SearchRequest into SQL over the resource table and the search index tables.
 *
 * Each criterion is a set of index rows (`param` plus a predicate on the value). The most selective one drives the
 * query and the others are probes (`EXISTS`, one seek on the index table's key per candidate). A driver that matches
 * at most one row per resource (one reference, one system|code) is joined directly: its lookup index yields
 * resources in rid order, so the first page stops early. Any other driver is `r.rid IN (...)`. Results come in rid
 * order (creation order) unless `_sort` says otherwise.
 *
 * A page holds what fits the response budget: the query yields rids and sizes, the content of only those that fit is
 * read, and the page stops at the first that does not (`hasMore`; the next page starts there).
 */
export async function searchResources(
  context: StoreContext,
  scope: Scope,
  request: SearchRequest,
  budget = ResponseBudget.unlimited(),
): Promise<SearchResult> {
  const deferred = [request.resourceType, ...request.revinclude.map((item) => item.split(':')[0])].some(DeferredIndex.defers);
  if (deferred) await context.deferredIndex.flush(context, scope.tenant);
  const db = context.db();
  const criteria = request.params.map((param) => criterion(scope, request.resourceType, param));
  const filtered = () => filteredResources(db, scope, request.resourceType, criteria);

  let matches: Match[] = [];
  let hasMore = false;
  if (request.count > 0) {
    const { query, rid } = filtered();
    let ordered = query.select(['r.rid', contentBytes('r.content').as('bytes')]);
    for (const rule of request.sort) ordered = orderBy(ordered, scope, request.resourceType, rule);
    const candidates = await ordered
      .orderBy(rid)
      .limit(request.count + 1)
      .offset(request.offset)
      .execute();
    const page = withinBudget(budget, candidates.slice(0, request.count));
    hasMore = candidates.length > page.length;
    matches = await contentsOf(db, page.map((candidate) => candidate.rid));
  }

  const result: SearchResult = {
    resources: matches.map((m) => m.resource),
    included: await included(db, scope, request, matches, budget),
    hasMore,
  };
  if (request.total === 'accurate') {
    const counted = await filtered()
      .query.select((eb) => eb.fn.countAll<number>().as('total'))
      .executeTakeFirstOrThrow();
    result.total = Number(counted.total);
  }
  return result;
}

/** The matching resources as `r`, and the column their rid order is best read from. */
function filteredResources(db: Kysely<Database>, scope: Scope, resourceType: string, criteria: Criterion[]) {
  // A row criterion on _id pins the result to a few rows; then every index criterion is a probe.
  const driver = criteria.some((c) => c.kind === 'row' && c.rank === 0)
    ? undefined
    : criteria.filter((c): c is IndexCriterion => c.kind === 'index' && !c.negated).sort((a, b) => a.rank - b.rank)[0];
  const joined = driver?.unique === true;
  const from = joined
    ? (db
        .selectFrom(`${driver.table as 'search_token'} as d`)
        .innerJoin('resources as r', 'r.rid', 'd.rid')
        .where('d.tenant', '=', scope.tenant)
        .where('d.fhir_version', '=', scope.version)
        .where('d.resource_type', '=', resourceType)
        .where('d.param', '=', driver.param)
        .$if(driver.predicate !== undefined, (q) => q.where(driver.predicate?.('d') as Predicate)) as unknown as ReturnType<typeof resourcesOnly>)
    : resourcesOnly(db);
  // Probes check the driver's rid when there is one, before the resource row is read at all.
  const anchor = joined ? 'd.rid' : 'r.rid';
  const query = from
    .where('r.deleted', '=', 0)
    // With a driver, its index rows already belong to this tenant, release and type alone; repeating the scope on
    // the resource table would tempt SQLite into scanning every resource of the type instead.
    .$if(driver === undefined, (q) =>
      q.where('r.tenant', '=', scope.tenant).where('r.fhir_version', '=', scope.version).where('r.resource_type', '=', resourceType),
    )
    .where((eb) =>
      eb.and(
        criteria
          .filter((c) => !joined || c !== driver)
          .map((c) => {
            if (c.kind === 'row') return c.predicate(eb);
            if (c === driver) return eb('r.rid', 'in', drivingRows(eb, scope, resourceType, c));
            const exists = eb.exists(probedRows(eb, c, anchor));
            return c.negated ? eb.not(exists) : exists;
          }),
      ),
    );
  return { query, rid: anchor as 'r.rid' };
}

function resourcesOnly(db: Kysely<Database>) {
  return (db as unknown as Kysely<SearchTables>).selectFrom('resources as r');
}

/** The rids a criterion matches, through the lookup index (scope, parameter, value, rid). */
function drivingRows(eb: ResourceQuery, scope: Scope, resourceType: string, c: IndexCriterion) {
  return eb
    .selectFrom(`${c.table as 'search_token'} as i`)
    .select('i.rid')
    .where('i.tenant', '=', scope.tenant)
    .where('i.fhir_version', '=', scope.version)
    .where('i.resource_type', '=', resourceType)
    .where('i.param', '=', c.param)
    .$if(c.predicate !== undefined, (q) => q.where(c.predicate?.('i') as Predicate));
}

/**
 * Whether one candidate resource has a matching row, through the table's key (rid, parameter, ...). The scope is
 * left out on purpose: the rid implies it, and naming it would steer SQLite to the lookup index instead.
 */
function probedRows(eb: ResourceQuery, c: IndexCriterion, anchor: string) {
  return eb
    .selectFrom(`${c.table as 'search_token'} as i`)
    .select('i.rid')
    .where('i.rid', '=', sql.ref<number>(anchor))
    .where('i.param', '=', c.param)
    .$if(c.predicate !== undefined, (q) => q.where(c.predicate?.('i') as Predicate));
}

const SORT_COLUMNS: Record<SearchParameter['type'], string> = {
  token: 'code',
  string: 'normalized',
  reference: 'reference',
  date: 'start_ms',
  number: 'value',
  quantity: 'value',
  uri: 'uri',
};

/**
 * `_sort`: resources by their lowest value of the parameter (highest for descending; for dates the range's start
 * ascending and its end descending), those without a value last.
 */
function orderBy<Q extends { orderBy: (...args: never[]) => Q }>(query: Q, scope: Scope, resourceType: string, rule: SortRule): Q {
  const direction = rule.descending ? sql`desc` : sql`asc`;
  const parameter = searchParameter(scope.version, resourceType, rule.code) as SearchParameter;
  let key: Expression<unknown>;
  if (rule.code === '_id') key = sql.ref('r.id');
  else if (rule.code === '_lastUpdated') key = sql.ref('r.last_updated');
  else {
    const columnName = parameter.type === 'date' && rule.descending ? 'end_ms' : SORT_COLUMNS[parameter.type];
    const aggregate = rule.descending ? sql`max` : sql`min`;
    key = sql`(select ${aggregate}(${sql.ref(`i.${columnName}`)}) from ${sql.table(tableOf(parameter))} as i
      where i.rid = r.rid and i.param = ${parameter.code})`;
  }
  return (query.orderBy as unknown as (expression: Expression<unknown>) => Q)(sql`${key} ${direction} nulls last`);
}

