import { badRequest, OperationOutcomeError } from '../outcome.js';
import { dateRange, type DateRange } from './date.js';
import type { SearchParameter } from './registry.js';
import { relativeReference, truncateIndexText } from './text.js';

/**
 * Search values as the query states them (`ge2024-01-01`, `http://fhir.nl/fhir/NamingSystem/bsn|999911120`),
 * parsed the same way when the request is checked and when the store turns it into SQL.
 */
export type Prefix = 'eq' | 'ne' | 'gt' | 'lt' | 'ge' | 'le' | 'sa' | 'eb' | 'ap';

const PREFIX = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)(?=[-\d])/;

/** Values separated by unescaped commas (`a,b\,c` is `a` and `b\,c`); escapes stay until a value is read. */
export function splitValues(raw: string): string[] {
  return splitUnescaped(raw, ',');
}

export interface TokenQuery {
  /** undefined: any system; '': no system (`|code`). */
  system?: string;
  /** undefined: any code (`system|`). */
  code?: string;
}

export function tokenQuery(value: string): TokenQuery {
  const parts = splitUnescaped(value, '|');
  if (parts.length === 1) return { code: truncateIndexText(unescapeValue(value)) };
  const system = truncateIndexText(unescapeValue(parts[0]));
  const code = truncateIndexText(unescapeValue(parts.slice(1).join('|')));
  return code === '' ? { system } : { system, code };
}

export interface DateQuery extends DateRange {
  prefix: Prefix;
}

export function dateQuery(code: string, value: string): DateQuery {
  const { prefix, rest } = splitPrefix(value);
  const range = dateRange(unescapeValue(rest));
  if (!range) throw invalidValue(code, value, 'a date such as 2024-03-01 or ge2024-03-01T10:00:00Z');
  return { prefix, ...range };
}

export type Comparison = ['<' | '<=' | '>' | '>=', number];

/**
 * A searched date against an instant, a point in time such as meta.lastUpdated (FHIR R4 §3.1.1.4.4 with a range of
 * zero width): the instant must pass every comparison of one of the groups.
 */
export function instantComparisons(query: DateQuery): Comparison[][] {
  switch (query.prefix) {
    case 'eq':
    case 'ap':
      return [[['>=', query.start], ['<=', query.end]]];
    case 'ne':
      return [[['<', query.start]], [['>', query.end]]];
    case 'gt':
    case 'sa':
      return [[['>', query.end]]];
    case 'lt':
    case 'eb':
      return [[['<', query.start]]];
    case 'ge':
      return [[['>=', query.start]]];
    case 'le':
      return [[['<=', query.end]]];
  }
}

export interface NumberQuery {
  prefix: Prefix;
  value: number;
  /** The range the value stands for at its precision: `100` is [99.5, 100.5). */
  low: number;
  high: number;
  system?: string;
  code?: string;
}

const NUMBER = /^-?\d+(?:\.(\d+))?(?:[eE][-+]?\d+)?$/;

export function numberQuery(parameter: SearchParameter, value: string): NumberQuery {
  const [numberText, ...unit] = splitUnescaped(value, '|');
  const { prefix, rest } = splitPrefix(numberText);
  const match = NUMBER.exec(rest);
  if (!match || (parameter.type === 'number' && unit.length > 0) || unit.length === 1 || unit.length > 2) {
    const expected = parameter.type === 'quantity' ? 'a quantity such as 5.4|http://unitsofmeasure.org|mg' : 'a number';
    throw invalidValue(parameter.code, value, expected);
  }
  const number = Number(rest);
  const half = 0.5 * 10 ** -(match[1]?.length ?? 0);
  const query: NumberQuery = { prefix, value: number, low: number - half, high: number + half };
  if (unit.length === 2) {
    const [system, code] = unit.map(unescapeValue);
    if (system !== '') query.system = system;
    if (code !== '') query.code = code;
  }
  return query;
}

/**
 * The stored references a reference search value matches: `Patient/1`, an absolute or canonical URL as written,
 * or a bare id, which stands for that id in each target type (or the type the `:Type` modifier names).
 */
export function referenceQuery(parameter: SearchParameter, escaped: string, typeModifier?: string): string[] {
  const value = unescapeValue(escaped);
  if (value.includes('/') || value.includes(':')) {
    const relative = relativeReference(value);
    if (typeModifier !== undefined && relative !== undefined && !relative.startsWith(`${typeModifier}/`)) {
      throw invalidValue(parameter.code, value, `a reference to a ${typeModifier}`);
    }
    return [truncateIndexText(value)];
  }
  const types = typeModifier !== undefined ? [typeModifier] : parameter.target;
  return types.length > 0 ? types.map((type) => `${type}/${value}`) : [value];
}

export function splitPrefix(value: string): { prefix: Prefix; rest: string } {
  const match = PREFIX.exec(value);
  return match ? { prefix: match[1] as Prefix, rest: value.slice(2) } : { prefix: 'eq', rest: value };
}

function invalidValue(code: string, value: string, expected: string): OperationOutcomeError {
  return new OperationOutcomeError(badRequest(`Search parameter '${code}': '${value}' is not ${expected}`, code));
}

function splitUnescaped(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  for (let i = 0; i < value.length; i += 1) {
    const char = value[i];
    if (char === '\\' && i + 1 < value.length) {
      current += char + value[i + 1];
      i += 1;
    } else if (char === separator) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts;
}

export function unescapeValue(value: string): string {
  return value.replace(/\\([\\,|$])/g, '$1');
}
