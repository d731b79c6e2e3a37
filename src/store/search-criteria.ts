import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import { badRequest, OperationOutcomeError } from '../fhir/outcome.js';
import { ofTypeParam, referenceIdentifierParam } from '../fhir/search/index-entries.js';
import {
  dateQuery,
  instantComparisons,
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
import type { SearchParam } from '../fhir/search/types.js';
import type { Scope } from './repository.js';
import type { Database, IndexTable } from './schema.js';

/**
 * One search parameter of a request as SQL: either rows of an index table (`param` plus a predicate on the value
 * columns) or a condition on the resource row itself (`_id`, `_lastUpdated`).
 */
export type Predicate = Expression<SqlBool>;
/** The resource table as `r`, and the driving index table as `d` when a driver is joined. */
export type SearchTables = Database & { r: Database['resources']; d: Database['search_token'] };
export type ResourceQuery = ExpressionBuilder<SearchTables, 'r'>;

export interface IndexCriterion {
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

export interface RowCriterion {
  kind: 'row';
  predicate: (eb: ResourceQuery) => Predicate;
  rank: number;
}

export type Criterion = IndexCriterion | RowCriterion;

/** Text above every other in byte order: `x <= value < x + TOP` is "value starts with x". */
const TOP = '\u{10FFFF}';

export function criterion(scope: Scope, resourceType: string, param: SearchParam): Criterion {
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

export function tableOf(parameter: SearchParameter): IndexTable {
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
  const groups = param.values.flatMap((value) => instantComparisons(dateQuery('_lastUpdated', value)));
  return {
    kind: 'row',
    rank: 6,
    predicate: (eb) => eb.or(groups.map((group) => eb.and(group.map(([operator, millis]) => eb('r.last_updated', operator, millis))))),
  };
}
