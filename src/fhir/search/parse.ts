import { badRequest, issue, OperationOutcomeError, type OperationOutcomeIssue } from '../outcome.js';
import type { FhirVersion } from '../version.js';
import type { SearchParam, SearchRequest, SortRule } from './types.js';
import { dateQuery, numberQuery, referenceQuery, splitValues, tokenQuery } from './query-values.js';
import { isResourceType, searchParameter, type SearchParameter } from './registry.js';

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;

export type SearchQuery = URLSearchParams | Record<string, string | string[] | undefined>;

export interface SearchParseOptions {
  /** `Prefer: handling=lenient`: unknown or unsupported parameters become warnings instead of errors. */
  lenient?: boolean;
  /** A client's search is bounded (`limits.*`); without, `_count` is capped at MAX_COUNT and nothing else is. */
  limits?: SearchLimits;
}

/** The configuration's bounds on a search: each keeps a query well inside what either database accepts. */
export interface SearchLimits {
  searchCount: number;
  /** Values of search parameters, `_include`s and `_revinclude`s in one query: repeats and comma-separated values each count. */
  searchParameters: number;
  sortTerms: number;
}

/** A search request plus the warnings lenient handling produced (for the searchset Bundle's OperationOutcome). */
export interface ParsedSearchRequest extends SearchRequest {
  warnings: OperationOutcomeIssue[];
}

/** Result parameters the HTTP layer answers itself (formats, summaries); the store never sees them. */
const HTTP_LAYER_PARAMETERS = new Set(['_format', '_pretty', '_summary', '_elements']);

const MODIFIERS: Record<SearchParameter['type'], string[]> = {
  token: ['missing', 'not', 'of-type'],
  string: ['missing', 'exact', 'contains'],
  reference: ['missing', 'identifier'],
  date: ['missing'],
  number: ['missing'],
  quantity: ['missing'],
  uri: ['missing', 'below'],
};

const TOTALS: Record<string, SearchRequest['total']> = { none: 'none', estimate: 'accurate', accurate: 'accurate' };

/**
 * Turns a FHIR search query (`GET [base]/Task?owner=Organization/1&status=requested&_count=50`) into a
 * SearchRequest, or throws a bad-request OperationOutcomeError naming the parameter at fault.
 */
export function parseSearchRequest(
  version: FhirVersion,
  resourceType: string,
  query: SearchQuery,
  options: SearchParseOptions = {},
): ParsedSearchRequest {
  if (!isResourceType(version, resourceType)) {
    throw new OperationOutcomeError(badRequest(`'${resourceType}' is not a resource type that can be searched`));
  }
  const parser = new SearchParser(version, resourceType, options.lenient ?? false, options.limits);
  for (const [name, value] of queryEntries(query)) parser.add(name, value);
  return parser.result();
}

function queryEntries(query: SearchQuery): [string, string][] {
  if (query instanceof URLSearchParams) return [...query.entries()];
  return Object.entries(query).flatMap(([name, value]) =>
    value === undefined ? [] : (Array.isArray(value) ? value : [value]).map((item): [string, string] => [name, item]),
  );
}

class SearchParser {
  private readonly request: ParsedSearchRequest;
  private readonly seenControls = new Set<string>();
  /** Search parameter values, includes and revincludes so far, against limits.searchParameters. */
  private terms = 0;

  constructor(
    private readonly version: FhirVersion,
    private readonly resourceType: string,
    private readonly lenient: boolean,
    private readonly limits?: SearchLimits,
  ) {
    this.request = {
      resourceType,
      params: [],
      count: DEFAULT_COUNT,
      offset: 0,
      sort: [],
      include: [],
      revinclude: [],
      total: 'none',
      warnings: [],
    };
  }

  result(): ParsedSearchRequest {
    return this.request;
  }

  add(name: string, value: string): void {
    if (HTTP_LAYER_PARAMETERS.has(name)) return;
    switch (name) {
      case '_count':
        this.request.count = Math.min(this.nonNegativeInteger(name, value), this.limits?.searchCount ?? MAX_COUNT);
        return;
      case '_offset':
        this.request.offset = this.nonNegativeInteger(name, value);
        return;
      case '_sort':
        this.request.sort = this.sortRules(value);
        return;
      case '_total':
        this.request.total = this.total(value);
        return;
      case '_include':
        this.request.include.push(...this.includes(this.counted(name, value.split(','))));
        return;
      case '_revinclude':
        this.request.revinclude.push(...this.revincludes(this.counted(name, value.split(','))));
        return;
    }
    this.addCriterion(name, value);
  }

  /** Each value costs the database a condition or a query of its own: their number is bounded, whatever their shape. */
  private counted(name: string, values: string[]): string[] {
    this.terms += values.length;
    const limit = this.limits?.searchParameters;
    if (limit !== undefined && this.terms > limit) {
      const text = `The search has more than ${limit} parameter values (repeats and comma-separated values each count): '${name}' exceeds limits.searchParameters (${limit})`;
      throw new OperationOutcomeError(badRequest(text, name));
    }
    return values;
  }

  private addCriterion(name: string, value: string): void {
    const [code, modifier] = splitModifier(name);
    if (code.includes('.')) return this.unsupported(name, `Chained search ('${name}') is not supported`);
    if (name.startsWith('_include:') || name.startsWith('_revinclude:')) {
      return this.unsupported(name, `'${name}' is not supported (no :iterate)`);
    }
    const parameter = searchParameter(this.version, this.resourceType, code);
    if (!parameter) return this.unsupported(name, `Unknown search parameter '${code}' for ${this.resourceType}`);
    if (modifier !== undefined && !this.modifierAllowed(parameter, modifier)) {
      return this.unsupported(name, `Modifier ':${modifier}' is not supported for search parameter '${code}' (${parameter.type})`);
    }
    if (value === '') return; // An empty value does not constrain the search.
    const values = this.counted(name, splitValues(value));
    values.forEach((item) => checkValue(parameter, modifier, item));
    const param: SearchParam = { code, values };
    if (modifier !== undefined) param.modifier = modifier;
    this.request.params.push(param);
  }

  private modifierAllowed(parameter: SearchParameter, modifier: string): boolean {
    if (parameter.code === '_id' || parameter.code === '_lastUpdated') return false;
    if (MODIFIERS[parameter.type].includes(modifier)) return true;
    // `subject:Patient=123`: a type modifier must name one of the parameter's target types.
    return parameter.type === 'reference' && isResourceType(this.version, modifier) && (parameter.target.length === 0 || parameter.target.includes(modifier));
  }

  private sortRules(value: string): SortRule[] {
    this.once('_sort');
    const terms = value.split(',');
    const limit = this.limits?.sortTerms;
    if (limit !== undefined && terms.length > limit) {
      throw new OperationOutcomeError(badRequest(`_sort has ${terms.length} terms; it exceeds limits.sortTerms (${limit})`, '_sort'));
    }
    return terms.flatMap((item) => {
      const descending = item.startsWith('-');
      const code = descending ? item.slice(1) : item;
      if (!searchParameter(this.version, this.resourceType, code)) {
        this.unsupported('_sort', `Cannot sort on '${code}': not a search parameter of ${this.resourceType}`);
        return [];
      }
      return [{ code, descending }];
    });
  }

  private total(value: string): SearchRequest['total'] {
    this.once('_total');
    const total = TOTALS[value];
    if (!total) throw new OperationOutcomeError(badRequest(`_total must be none, estimate or accurate, not '${value}'`, '_total'));
    return total;
  }

  private includes(items: string[]): string[] {
    return items.flatMap((item) => {
      const [sourceType, code, targetType] = item.split(':');
      if (sourceType !== this.resourceType) {
        this.unsupported('_include', `_include '${item}' must start with the searched type ${this.resourceType}`);
        return [];
      }
      const parameter = this.referenceParameter('_include', item, sourceType, code);
      if (parameter && targetType !== undefined && !this.targets(parameter, targetType)) {
        this.unsupported('_include', `_include '${item}': ${code} does not refer to ${targetType}`);
        return [];
      }
      return parameter ? [item] : [];
    });
  }

  private revincludes(items: string[]): string[] {
    return items.flatMap((item) => {
      const [sourceType, code, targetType] = item.split(':');
      if (!isResourceType(this.version, sourceType)) {
        this.unsupported('_revinclude', `_revinclude '${item}': '${sourceType}' is not a resource type`);
        return [];
      }
      const parameter = this.referenceParameter('_revinclude', item, sourceType, code);
      if (parameter && ((targetType !== undefined && targetType !== this.resourceType) || !this.targets(parameter, this.resourceType))) {
        this.unsupported('_revinclude', `_revinclude '${item}': ${sourceType}.${code} does not refer to ${this.resourceType}`);
        return [];
      }
      return parameter ? [item] : [];
    });
  }

  private referenceParameter(name: string, item: string, sourceType: string, code: string | undefined): SearchParameter | undefined {
    const parameter = code === undefined ? undefined : searchParameter(this.version, sourceType, code);
    if (parameter?.type === 'reference') return parameter;
    this.unsupported(name, `${name} '${item}' does not name a reference search parameter of ${sourceType} (Type:parameter[:TargetType])`);
    return undefined;
  }

  private targets(parameter: SearchParameter, type: string): boolean {
    return parameter.target.length === 0 || parameter.target.includes(type);
  }

  private nonNegativeInteger(name: string, value: string): number {
    this.once(name);
    if (!/^\d{1,9}$/.test(value)) throw new OperationOutcomeError(badRequest(`${name} must be a non-negative integer, not '${value}'`, name));
    return Number(value);
  }

  private once(name: string): void {
    if (this.seenControls.has(name)) throw new OperationOutcomeError(badRequest(`${name} may appear only once`, name));
    this.seenControls.add(name);
  }

  /** Strict handling rejects the request; lenient handling records a warning and ignores the parameter. */
  private unsupported(name: string, text: string): void {
    if (!this.lenient) throw new OperationOutcomeError(badRequest(text, name));
    this.request.warnings.push(issue('warning', 'not-supported', `${text}; ignored`, name));
  }
}

function splitModifier(name: string): [string, string | undefined] {
  const colon = name.indexOf(':');
  return colon < 0 ? [name, undefined] : [name.slice(0, colon), name.slice(colon + 1)];
}

/** Rejects values that can never match (a malformed date, `:missing=maybe`): always an error, lenient or not. */
function checkValue(parameter: SearchParameter, modifier: string | undefined, value: string): void {
  const bad = (expected: string) =>
    new OperationOutcomeError(badRequest(`Search parameter '${parameter.code}': '${value}' is not ${expected}`, parameter.code));
  if (modifier === 'missing') {
    if (value !== 'true' && value !== 'false') throw bad('true or false');
    return;
  }
  if (modifier === 'of-type') {
    const { system, code } = tokenQuery(value);
    if (system === undefined || code === undefined || !code.includes('|')) throw bad('type-system|type-code|value');
    return;
  }
  switch (parameter.type) {
    case 'date':
      dateQuery(parameter.code, value);
      return;
    case 'number':
    case 'quantity':
      numberQuery(parameter, value);
      return;
    case 'reference':
      if (modifier !== 'identifier') referenceQuery(parameter, value, modifier);
      return;
  }
}
