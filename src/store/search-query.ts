import { sql, type Expression, type ExpressionBuilder, type Kysely, type SqlBool } from 'kysely';
import { badRequest, OperationOutcomeError } from '../fhir/outcome.js';
import { ofTypeParam, referenceIdentifierParam } from '../fhir/search/index-entries.js';
import {
  dateQuery,
  numberQuery,
  referenceQuery,
  tokenQuery,
  unescapeValue,
  type DateQuery,
  type NumberQuery,
  type TokenQuery,
} from '../fhir/search/query-values.js';
import { searchParameter, type SearchParameter } from '../fhir/search/registry.js';
import { normalizeString, truncateIndexText } from '../fhir/search/text.js';
import type { Resource } from '../fhir/version.js';
import type { Scope, SearchParam, SearchRequest, SearchResult, SortRule } from './repository.js';
import type { StoreContext } from './context.js';
import type { Database, IndexTable } from './schema.js';

/**
 * Turns a SearchRequest into SQL over the resource table and the search index tables.
 *
 * Each criterion is a set of index rows (`param` plus a predicate on the value). The most selective one drives the
 * query (`r.rid IN (...)`, which walks its index in rid order); the others are probes (`EXISTS`, one index seek per
 * candidate). Results come in rid order (creation order) unless `_sort` says otherwise.
 */
type ResourceQuery = ExpressionBuilder<Database & { r: Database['resources'] }, 'r'>;
type Predicate = Expression<SqlBool>;

interface IndexCriterion {
  kind: 'index';
  table: IndexTable;
  param: string;
  /** Restricts the parameter's rows to the matching values; absent: any value (`:missing`). */
  predicate?: Predicate;
  /** True: the resource must have no matching row (`:not`, `:missing=true`). */
  negated: boolean;
  /** Lower drives better: how few resources a criterion of this shape usually matches. */
  rank: number;
}

interface RowCriterion {
  kind: 'row';
  predicate: (eb: ResourceQuery) => Predicate;
  rank: number;
}

type Criterion = IndexCriterion | RowCriterion;

interface Match {
  rid: number;
  resource: Resource;
}

/** Text above every other in byte order: `x <= value < x + TOP` is "value starts with x". */
const TOP = '\u{10FFFF}';

export async function searchResources(context: StoreContext, scope: Scope, request: SearchRequest): Promise<SearchResult> {
  const db = context.db();
  const criteria = request.params.map((param) => criterion(scope, request.resourceType, param));
  const filtered = () => filteredResources(db, scope, request.resourceType, criteria);

  const matches: Match[] = [];
  let hasMore = false;
  if (request.count > 0) {
    let query = filtered().select(['r.rid', 'r.content']);
    for (const rule of request.sort) query = orderBy(query, scope, request.resourceType, rule);
    const rows = await query
      .orderBy('r.rid')
      .limit(request.count + 1)
      .offset(request.offset)
      .execute();
    hasMore = rows.length > request.count;
    for (const row of rows.slice(0, request.count)) matches.push({ rid: row.rid, resource: JSON.parse(row.content as string) as Resource });
  }

  const result: SearchResult = { resources: matches.map((m) => m.resource), included: await included(db, scope, request, matches), hasMore };
  if (request.total === 'accurate') {
    const counted = await filtered()
      .select((eb) => eb.fn.countAll<number>().as('total'))
      .executeTakeFirstOrThrow();
    result.total = Number(counted.total);
  }
  return result;
}

function filteredResources(db: Kysely<Database>, scope: Scope, resourceType: string, criteria: Criterion[]) {
  const rowCriteria = criteria.filter((c): c is RowCriterion => c.kind === 'row');
  // A row criterion on _id pins the result to a few rows; then every index criterion is a probe.
  const driver = rowCriteria.some((c) => c.rank === 0)
    ? undefined
    : criteria.filter((c): c is IndexCriterion => c.kind === 'index' && !c.negated).sort((a, b) => a.rank - b.rank)[0];
  return (
    db
      .selectFrom('resources as r')
      .where('r.deleted', '=', 0)
      // With a driver, its index rows already belong to this tenant, release and type alone; repeating the scope on
      // the resource table would tempt SQLite into scanning every resource of the type instead.
      .$if(driver === undefined, (q) =>
        q.where('r.tenant', '=', scope.tenant).where('r.fhir_version', '=', scope.version).where('r.resource_type', '=', resourceType),
      )
      .where((eb) =>
        eb.and(
          criteria.map((c) => {
            if (c.kind === 'row') return c.predicate(eb);
            if (c === driver) return eb('r.rid', 'in', drivingRows(eb, scope, resourceType, c));
            const exists = eb.exists(probedRows(eb, c));
            return c.negated ? eb.not(exists) : exists;
          }),
        ),
      )
  );
}

/** The rids a criterion matches, through the lookup index (scope, parameter, value, rid): in rid order. */
function drivingRows(eb: ResourceQuery, scope: Scope, resourceType: string, c: IndexCriterion) {
  return eb
    .selectFrom(`${c.table as 'search_token'} as i`)
    .select('i.rid')
    .where('i.tenant', '=', scope.tenant)
    .where('i.fhir_version', '=', scope.version)
    .where('i.resource_type', '=', resourceType)
    .where('i.param', '=', c.param)
    .$if(c.predicate !== undefined, (q) => q.where(c.predicate as Predicate));
}

/**
 * Whether one candidate resource has a matching row, through the table's key (rid, parameter, ...). The scope is
 * left out on purpose: the rid implies it, and naming it would steer SQLite to the lookup index instead.
 */
function probedRows(eb: ResourceQuery, c: IndexCriterion) {
  return eb
    .selectFrom(`${c.table as 'search_token'} as i`)
    .select('i.rid')
    .whereRef('i.rid', '=', 'r.rid')
    .where('i.param', '=', c.param)
    .$if(c.predicate !== undefined, (q) => q.where(c.predicate as Predicate));
}

function criterion(scope: Scope, resourceType: string, param: SearchParam): Criterion {
  const parameter = searchParameter(scope.version, resourceType, param.code);
  if (!parameter) throw new OperationOutcomeError(badRequest(`Unknown search parameter '${param.code}' for ${resourceType}`, param.code));
  if (parameter.code === '_id') return { kind: 'row', rank: 0, predicate: (eb) => eb('r.id', 'in', param.values.map(unescapeValue)) };
  if (parameter.code === '_lastUpdated') return lastUpdatedCriterion(param);

  const table = tableOf(parameter);
  if (param.modifier === 'missing') {
    return { kind: 'index', table, param: parameter.code, negated: param.values[0] === 'true', rank: 9 };
  }
  switch (parameter.type) {
    case 'token':
      return tokenCriterion(parameter, param);
    case 'string':
      return stringCriterion(parameter, param);
    case 'reference':
      return referenceCriterion(parameter, param);
    case 'date':
      return { kind: 'index', table, param: parameter.code, negated: false, rank: 6, predicate: anyOf(param.values.map((v) => datePredicate(dateQuery(parameter.code, v)))) };
    case 'number':
    case 'quantity':
      return { kind: 'index', table, param: parameter.code, negated: false, rank: 6, predicate: anyOf(param.values.map((v) => numberPredicate(numberQuery(parameter, v)))) };
    case 'uri':
      return uriCriterion(parameter, param);
  }
}

function tableOf(parameter: SearchParameter): IndexTable {
  const tables: Record<SearchParameter['type'], IndexTable> = {
    token: 'search_token',
    string: 'search_string',
    reference: 'search_reference',
    date: 'search_date',
    number: 'search_number',
    quantity: 'search_number',
    uri: 'search_uri',
  };
  return tables[parameter.type];
}

const column = <T = string>(name: string) => sql.ref<T>(`i.${name}`);
const equals = (name: string, value: unknown): Predicate => sql<SqlBool>`${column(name)} = ${value}`;
const inList = (name: string, values: unknown[]): Predicate =>
  values.length === 1 ? equals(name, values[0]) : sql<SqlBool>`${column(name)} in (${sql.join(values)})`;
const compare = (name: string, operator: '<' | '<=' | '>' | '>=', value: unknown): Predicate =>
  sql<SqlBool>`${column(name)} ${sql.raw(operator)} ${value}`;
const startsWith = (name: string, prefix: string): Predicate => all([compare(name, '>=', prefix), compare(name, '<', prefix + TOP)]);
const all = (predicates: Predicate[]): Predicate => sql<SqlBool>`(${sql.join(predicates, sql` and `)})`;
const anyOf = (predicates: Predicate[]): Predicate =>
  predicates.length === 1 ? predicates[0] : sql<SqlBool>`(${sql.join(predicates, sql` or `)})`;

function tokenCriterion(parameter: SearchParameter, param: SearchParam): IndexCriterion {
  const indexParam = param.modifier === 'of-type' ? ofTypeParam(parameter.code) : parameter.code;
  const queries = param.values.map(tokenQuery);
  const predicate = queries.every((q) => q.system === undefined)
    ? inList('code', queries.map((q) => q.code))
    : anyOf(queries.map(tokenPredicate));
  const withSystem = queries.every((q) => q.system !== undefined && q.system !== '');
  return { kind: 'index', table: 'search_token', param: indexParam, predicate, negated: param.modifier === 'not', rank: withSystem ? 2 : 5 };
}

function tokenPredicate(query: TokenQuery): Predicate {
  const parts: Predicate[] = [];
  if (query.system !== undefined) parts.push(equals('system', query.system));
  if (query.code !== undefined) parts.push(equals('code', query.code));
  return all(parts);
}

function stringCriterion(parameter: SearchParameter, param: SearchParam): IndexCriterion {
  const values = param.values.map(unescapeValue);
  const predicate = anyOf(
    values.map((value) => {
      if (param.modifier === 'exact') return equals('exact', truncateIndexText(value));
      const normalized = normalizeString(value);
      if (param.modifier === 'contains') return sql<SqlBool>`${column('normalized')} like ${`%${escapeLike(normalized)}%`} escape '\\'`;
      return startsWith('normalized', normalized);
    }),
  );
  return { kind: 'index', table: 'search_string', param: parameter.code, predicate, negated: false, rank: param.modifier === 'contains' ? 7 : 3 };
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (char) => `\\${char}`);
}

function referenceCriterion(parameter: SearchParameter, param: SearchParam): IndexCriterion {
  if (param.modifier === 'identifier') {
    const predicate = anyOf(param.values.map((v) => tokenPredicate(tokenQuery(v))));
    return { kind: 'index', table: 'search_token', param: referenceIdentifierParam(parameter.code), predicate, negated: false, rank: 1 };
  }
  const references = param.values.flatMap((v) => referenceQuery(parameter, v, param.modifier));
  return { kind: 'index', table: 'search_reference', param: parameter.code, predicate: inList('reference', references), negated: false, rank: 1 };
}

function uriCriterion(parameter: SearchParameter, param: SearchParam): IndexCriterion {
  const values = param.values.map((v) => truncateIndexText(unescapeValue(v)));
  const predicate = param.modifier === 'below' ? anyOf(values.map((v) => startsWith('uri', v))) : inList('uri', values);
  return { kind: 'index', table: 'search_uri', param: parameter.code, predicate, negated: false, rank: 3 };
}

/**
 * Date prefixes against a stored range [start, end] and the searched range [qs, qe] (FHIR R4 §3.1.1.4.4):
 * eq: contained; ne: not contained; gt/lt: part of it after/before; ge/le: gt/lt or contained;
 * sa/eb: wholly after/before; ap: overlapping.
 */
function datePredicate(query: DateQuery): Predicate {
  const contained = all([compare('start_ms', '>=', query.start), compare('end_ms', '<=', query.end)]);
  switch (query.prefix) {
    case 'eq':
      return contained;
    case 'ne':
      return anyOf([compare('start_ms', '<', query.start), compare('end_ms', '>', query.end)]);
    case 'gt':
      return compare('end_ms', '>', query.end);
    case 'lt':
      return compare('start_ms', '<', query.start);
    case 'ge':
      return anyOf([compare('end_ms', '>', query.end), contained]);
    case 'le':
      return anyOf([compare('start_ms', '<', query.start), contained]);
    case 'sa':
      return compare('start_ms', '>', query.end);
    case 'eb':
      return compare('end_ms', '<', query.start);
    case 'ap':
      return all([compare('start_ms', '<=', query.end), compare('end_ms', '>=', query.start)]);
  }
}

function numberPredicate(query: NumberQuery): Predicate {
  const parts = [numberComparison(query)];
  if (query.system !== undefined) parts.push(equals('system', query.system));
  if (query.code !== undefined) parts.push(equals('code', query.code));
  return all(parts);
}

function numberComparison(query: NumberQuery): Predicate {
  switch (query.prefix) {
    case 'eq':
      return all([compare('value', '>=', query.low), compare('value', '<', query.high)]);
    case 'ne':
      return anyOf([compare('value', '<', query.low), compare('value', '>=', query.high)]);
    case 'gt':
    case 'sa':
      return compare('value', '>', query.value);
    case 'lt':
    case 'eb':
      return compare('value', '<', query.value);
    case 'ge':
      return compare('value', '>=', query.value);
    case 'le':
      return compare('value', '<=', query.value);
    case 'ap': {
      const margin = Math.abs(query.value) * 0.1;
      return all([compare('value', '>=', query.value - margin), compare('value', '<=', query.value + margin)]);
    }
  }
}

function lastUpdatedCriterion(param: SearchParam): RowCriterion {
  const queries = param.values.map((v) => dateQuery('_lastUpdated', v));
  return {
    kind: 'row',
    rank: 6,
    predicate: (eb) =>
      eb.or(
        queries.map((q) => {
          // The stored instant is a point: the range predicates reduce to comparisons with it.
          const at = (operator: '<' | '<=' | '>' | '>=', value: number) => eb('r.last_updated', operator, value);
          switch (q.prefix) {
            case 'eq':
              return eb.and([at('>=', q.start), at('<=', q.end)]);
            case 'ne':
              return eb.or([at('<', q.start), at('>', q.end)]);
            case 'gt':
            case 'sa':
              return at('>', q.end);
            case 'lt':
            case 'eb':
              return at('<', q.start);
            case 'ge':
              return at('>=', q.start);
            case 'le':
              return at('<=', q.end);
            case 'ap':
              return eb.and([at('>=', q.start), at('<=', q.end)]);
          }
        }),
      ),
  };
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
    key = sql`(select ${aggregate}(${column(columnName)}) from ${sql.table(tableOf(parameter))} as i
      where i.rid = r.rid and i.param = ${parameter.code})`;
  }
  return (query.orderBy as unknown as (expression: Expression<unknown>) => Q)(sql`${key} ${direction} nulls last`);
}

const RELATIVE_REFERENCE = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/;

/** `_include` and `_revinclude`: the resources the matches refer to, and those referring to the matches. */
async function included(db: Kysely<Database>, scope: Scope, request: SearchRequest, matches: Match[]): Promise<Resource[]> {
  if (matches.length === 0 || (request.include.length === 0 && request.revinclude.length === 0)) return [];
  const seen = new Set(matches.map((m) => `${m.resource.resourceType}/${m.resource.id}`));
  const found: Resource[] = [];
  const add = (resources: Resource[]) => {
    for (const resource of resources) {
      const key = `${resource.resourceType}/${resource.id}`;
      if (!seen.has(key)) {
        seen.add(key);
        found.push(resource);
      }
    }
  };

  for (const include of request.include) {
    const [sourceType, code, targetType] = include.split(':');
    const rows = await db
      .selectFrom('search_reference')
      .select('reference')
      .distinct()
      .where('tenant', '=', scope.tenant)
      .where('fhir_version', '=', scope.version)
      .where('resource_type', '=', sourceType)
      .where('param', '=', code)
      .where('rid', 'in', matches.map((m) => m.rid))
      .execute();
    const targets = rows
      .map((row) => RELATIVE_REFERENCE.exec(row.reference))
      .filter((m): m is RegExpExecArray => m !== null && (targetType === undefined || m[1] === targetType));
    add(await currentResources(db, scope, targets.map((m) => ({ resourceType: m[1], id: m[2] }))));
  }

  for (const revinclude of request.revinclude) {
    const [sourceType, code] = revinclude.split(':');
    const rows = await db
      .selectFrom('resources as r')
      .select('r.content')
      .where('r.deleted', '=', 0)
      .where('r.rid', 'in', (eb) =>
        eb
          .selectFrom('search_reference')
          .select('rid')
          .where('tenant', '=', scope.tenant)
          .where('fhir_version', '=', scope.version)
          .where('resource_type', '=', sourceType)
          .where('param', '=', code)
          .where('reference', 'in', matches.map((m) => `${m.resource.resourceType}/${m.resource.id}`)),
      )
      .execute();
    add(rows.map((row) => JSON.parse(row.content as string) as Resource));
  }
  return found;
}

async function currentResources(db: Kysely<Database>, scope: Scope, keys: { resourceType: string; id: string }[]): Promise<Resource[]> {
  const idsByType = new Map<string, string[]>();
  for (const key of keys) idsByType.set(key.resourceType, [...(idsByType.get(key.resourceType) ?? []), key.id]);
  const resources: Resource[] = [];
  for (const [resourceType, ids] of idsByType) {
    const rows = await db
      .selectFrom('resources')
      .select('content')
      .where('tenant', '=', scope.tenant)
      .where('fhir_version', '=', scope.version)
      .where('resource_type', '=', resourceType)
      .where('id', 'in', ids)
      .where('deleted', '=', 0)
      .execute();
    resources.push(...rows.map((row) => JSON.parse(row.content as string) as Resource));
  }
  return resources;
}

