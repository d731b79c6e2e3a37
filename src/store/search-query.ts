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
 * query and the others are probes (`EXISTS`, one seek on the index table's key per candidate). A driver that matches
 * at most one row per resource (one reference, one system|code) is joined directly: its lookup index yields
 * resources in rid order, so the first page stops early. Any other driver is `r.rid IN (...)`. Results come in rid
 * order (creation order) unless `_sort` says otherwise.
 */
type Predicate = Expression<SqlBool>;
/** The resource table as `r`, and the driving index table as `d` when a driver is joined. */
type SearchTables = Database & { r: Database['resources']; d: Database['search_token'] };
type ResourceQuery = ExpressionBuilder<SearchTables, 'r'>;

interface IndexCriterion {
  kind: 'index';
  table: IndexTable;
  param: string;
  /** Restricts the parameter's rows (of the table under `alias`) to the matching values; absent: any value. */
  predicate?: (alias: string) => Predicate;
  /** True: the resource must have no matching row (`:not`, `:missing=true`). */
  negated: boolean;
  /** Lower drives better: how few resources a criterion of this shape usually matches. */
  rank: number;
  /** At most one matching row per resource (an equality on the whole indexed value): it can be joined. */
  unique: boolean;
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
    const { query, rid } = filtered();
    let ordered = query.select(['r.rid', 'r.content']);
    for (const rule of request.sort) ordered = orderBy(ordered, scope, request.resourceType, rule);
    const rows = await ordered
      .orderBy(rid)
      .limit(request.count + 1)
      .offset(request.offset)
      .execute();
    hasMore = rows.length > request.count;
    for (const row of rows.slice(0, request.count)) matches.push({ rid: row.rid, resource: JSON.parse(row.content as string) as Resource });
  }

  const result: SearchResult = { resources: matches.map((m) => m.resource), included: await included(db, scope, request, matches), hasMore };
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

function criterion(scope: Scope, resourceType: string, param: SearchParam): Criterion {
  const parameter = searchParameter(scope.version, resourceType, param.code);
  if (!parameter) throw new OperationOutcomeError(badRequest(`Unknown search parameter '${param.code}' for ${resourceType}`, param.code));
  if (parameter.code === '_id') return { kind: 'row', rank: 0, predicate: (eb) => eb('r.id', 'in', param.values.map(unescapeValue)) };
  if (parameter.code === '_lastUpdated') return lastUpdatedCriterion(param);

  const base = { kind: 'index' as const, table: tableOf(parameter), param: parameter.code, negated: false, unique: false };
  if (param.modifier === 'missing') return { ...base, negated: param.values[0] === 'true', rank: 9 };
  switch (parameter.type) {
    case 'token':
      return tokenCriterion(parameter, param);
    case 'string':
      return stringCriterion(parameter, param);
    case 'reference':
      return referenceCriterion(parameter, param);
    case 'date': {
      const queries = param.values.map((v) => dateQuery(parameter.code, v));
      return { ...base, rank: 6, predicate: (alias: string) => anyOf(queries.map((q) => datePredicate(new Columns(alias), q))) };
    }
    case 'number':
    case 'quantity': {
      const queries = param.values.map((v) => numberQuery(parameter, v));
      return { ...base, rank: 6, predicate: (alias: string) => anyOf(queries.map((q) => numberPredicate(new Columns(alias), q))) };
    }
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

/** Comparisons on the value columns of an index table under one alias. */
class Columns {
  constructor(private readonly alias: string) {}

  column(name: string) {
    return sql.ref(`${this.alias}.${name}`);
  }
  equals(name: string, value: unknown): Predicate {
    return sql<SqlBool>`${this.column(name)} = ${value}`;
  }
  inList(name: string, values: unknown[]): Predicate {
    return values.length === 1 ? this.equals(name, values[0]) : sql<SqlBool>`${this.column(name)} in (${sql.join(values)})`;
  }
  compare(name: string, operator: '<' | '<=' | '>' | '>=', value: unknown): Predicate {
    return sql<SqlBool>`${this.column(name)} ${sql.raw(operator)} ${value}`;
  }
  startsWith(name: string, prefix: string): Predicate {
    return all([this.compare(name, '>=', prefix), this.compare(name, '<', prefix + TOP)]);
  }
  like(name: string, pattern: string): Predicate {
    return sql<SqlBool>`${this.column(name)} like ${pattern} escape '\\'`;
  }
}

const all = (predicates: Predicate[]): Predicate => sql<SqlBool>`(${sql.join(predicates, sql` and `)})`;
const anyOf = (predicates: Predicate[]): Predicate =>
  predicates.length === 1 ? predicates[0] : sql<SqlBool>`(${sql.join(predicates, sql` or `)})`;

function tokenCriterion(parameter: SearchParameter, param: SearchParam): IndexCriterion {
  const queries = param.values.map(tokenQuery);
  const withSystem = queries.every((q) => q.system !== undefined && q.system !== '' && q.code !== undefined);
  return {
    kind: 'index',
    table: 'search_token',
    param: param.modifier === 'of-type' ? ofTypeParam(parameter.code) : parameter.code,
    predicate: (alias) => tokenPredicate(new Columns(alias), queries),
    negated: param.modifier === 'not',
    rank: withSystem ? 2 : 5,
    unique: withSystem && queries.length === 1,
  };
}

function tokenPredicate(columns: Columns, queries: TokenQuery[]): Predicate {
  if (queries.every((q) => q.system === undefined)) return columns.inList('code', queries.map((q) => q.code));
  return anyOf(
    queries.map((query) => {
      const parts: Predicate[] = [];
      if (query.system !== undefined) parts.push(columns.equals('system', query.system));
      if (query.code !== undefined) parts.push(columns.equals('code', query.code));
      return all(parts);
    }),
  );
}

function stringCriterion(parameter: SearchParameter, param: SearchParam): IndexCriterion {
  const values = param.values.map(unescapeValue);
  const predicate = (alias: string) => {
    const columns = new Columns(alias);
    return anyOf(
      values.map((value) => {
        if (param.modifier === 'exact') return columns.equals('exact', truncateIndexText(value));
        const normalized = normalizeString(value);
        if (param.modifier === 'contains') return columns.like('normalized', `%${escapeLike(normalized)}%`);
        return columns.startsWith('normalized', normalized);
      }),
    );
  };
  const rank = param.modifier === 'contains' ? 7 : 3;
  return { kind: 'index', table: 'search_string', param: parameter.code, predicate, negated: false, rank, unique: false };
}

function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (char) => `\\${char}`);
}

function referenceCriterion(parameter: SearchParameter, param: SearchParam): IndexCriterion {
  if (param.modifier === 'identifier') {
    const queries = param.values.map(tokenQuery);
    const predicate = (alias: string) => tokenPredicate(new Columns(alias), queries);
    return { kind: 'index', table: 'search_token', param: referenceIdentifierParam(parameter.code), predicate, negated: false, rank: 1, unique: false };
  }
  const references = param.values.flatMap((v) => referenceQuery(parameter, v, param.modifier));
  const predicate = (alias: string) => new Columns(alias).inList('reference', references);
  return { kind: 'index', table: 'search_reference', param: parameter.code, predicate, negated: false, rank: 1, unique: references.length === 1 };
}

function uriCriterion(parameter: SearchParameter, param: SearchParam): IndexCriterion {
  const values = param.values.map((v) => truncateIndexText(unescapeValue(v)));
  const below = param.modifier === 'below';
  const predicate = (alias: string) => {
    const columns = new Columns(alias);
    return below ? anyOf(values.map((v) => columns.startsWith('uri', v))) : columns.inList('uri', values);
  };
  return { kind: 'index', table: 'search_uri', param: parameter.code, predicate, negated: false, rank: 3, unique: !below && values.length === 1 };
}

/**
 * Date prefixes against a stored range [start, end] and the searched range [qs, qe] (FHIR R4 §3.1.1.4.4):
 * eq: contained; ne: not contained; gt/lt: part of it after/before; ge/le: gt/lt or contained;
 * sa/eb: wholly after/before; ap: overlapping.
 */
function datePredicate(c: Columns, query: DateQuery): Predicate {
  const contained = all([c.compare('start_ms', '>=', query.start), c.compare('end_ms', '<=', query.end)]);
  switch (query.prefix) {
    case 'eq':
      return contained;
    case 'ne':
      return anyOf([c.compare('start_ms', '<', query.start), c.compare('end_ms', '>', query.end)]);
    case 'gt':
      return c.compare('end_ms', '>', query.end);
    case 'lt':
      return c.compare('start_ms', '<', query.start);
    case 'ge':
      return anyOf([c.compare('end_ms', '>', query.end), contained]);
    case 'le':
      return anyOf([c.compare('start_ms', '<', query.start), contained]);
    case 'sa':
      return c.compare('start_ms', '>', query.end);
    case 'eb':
      return c.compare('end_ms', '<', query.start);
    case 'ap':
      return all([c.compare('start_ms', '<=', query.end), c.compare('end_ms', '>=', query.start)]);
  }
}

function numberPredicate(c: Columns, query: NumberQuery): Predicate {
  const parts = [numberComparison(c, query)];
  if (query.system !== undefined) parts.push(c.equals('system', query.system));
  if (query.code !== undefined) parts.push(c.equals('code', query.code));
  return all(parts);
}

function numberComparison(c: Columns, query: NumberQuery): Predicate {
  switch (query.prefix) {
    case 'eq':
      return all([c.compare('value', '>=', query.low), c.compare('value', '<', query.high)]);
    case 'ne':
      return anyOf([c.compare('value', '<', query.low), c.compare('value', '>=', query.high)]);
    case 'gt':
    case 'sa':
      return c.compare('value', '>', query.value);
    case 'lt':
    case 'eb':
      return c.compare('value', '<', query.value);
    case 'ge':
      return c.compare('value', '>=', query.value);
    case 'le':
      return c.compare('value', '<=', query.value);
    case 'ap': {
      const margin = Math.abs(query.value) * 0.1;
      return all([c.compare('value', '>=', query.value - margin), c.compare('value', '<=', query.value + margin)]);
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
    key = sql`(select ${aggregate}(${sql.ref(`i.${columnName}`)}) from ${sql.table(tableOf(parameter))} as i
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

