import { GatewayError } from '../../errors.js';
import type { FhirVersion, Resource } from '../version.js';
import { dateRange, EARLIEST, LATEST, type DateRange } from './date.js';
import { searchParameters, type SearchParameter } from './registry.js';
import { normalizeString, relativeReference, truncateIndexText } from './text.js';
import { isObject } from '../../vocabulary/json.js';

/**
 * The values a resource is found by, per search parameter type, computed when it is written. The store keeps them
 * in one table per type, beside the resource's tenant, release and type.
 */
export interface TokenEntry {
  param: string;
  /** '' when the value has no system. */
  system: string;
  code: string;
}

export interface StringEntry {
  param: string;
  /** Lower case without accents: what default and :contains searches compare. */
  normalized: string;
  exact: string;
}

export interface ReferenceEntry {
  param: string;
  /** `Type/id` for relative references; absolute and canonical URLs as written (and their `Type/id` tail). */
  reference: string;
}

export interface DateEntry extends DateRange {
  param: string;
}

export interface NumberEntry {
  param: string;
  value: number;
  /** Quantity system and code (or unit); '' for plain numbers. */
  system: string;
  code: string;
}

export interface UriEntry {
  param: string;
  uri: string;
}

export interface IndexEntries {
  token: TokenEntry[];
  string: StringEntry[];
  reference: ReferenceEntry[];
  date: DateEntry[];
  number: NumberEntry[];
  uri: UriEntry[];
}

/**
 * Extra token entries under derived names, for modifiers answered from the token index:
 * `identifier:of-type` (code `typeCode|value`, system of the type coding) and `subject:identifier` (a Reference's
 * logical identifier). A colon never occurs in a parameter code, so these cannot clash with real parameters.
 */
export const ofTypeParam = (code: string) => `${code}:of-type`;
export const referenceIdentifierParam = (code: string) => `${code}:identifier`;

/**
 * The most index entries one resource may have. Beyond it the resource cannot be indexed: writing 10,000 entries
 * takes a few hundred milliseconds on a 2-core machine, and a Patient with 33,000 names (some 99,000) held the
 * event loop for over three seconds. No resource the gateway is meant for comes near it.
 */
export const MAX_INDEX_ENTRIES = 10_000;

/** Thrown by `indexEntries` for a resource with more than MAX_INDEX_ENTRIES entries. */
export class UnindexableResource extends GatewayError {
  static override readonly code = 'ERR_RESOURCE_UNINDEXABLE';
}

/** The entries of a resource; throws UnindexableResource when there are more than MAX_INDEX_ENTRIES. */
export function indexEntries(version: FhirVersion, resource: Resource): IndexEntries {
  const entries = new EntryCollector();
  for (const parameter of searchParameters(version, resource.resourceType)) {
    if (!parameter.extract) continue;
    for (const value of parameter.extract(resource)) addValue(entries, parameter, value);
  }
  return entries.result();
}

function addValue(entries: EntryCollector, parameter: SearchParameter, value: unknown): void {
  switch (parameter.type) {
    case 'token':
      return addToken(entries, parameter.code, value);
    case 'string':
      return addString(entries, parameter.code, value);
    case 'reference':
      return addReference(entries, parameter.code, value);
    case 'date':
      return addDate(entries, parameter.code, value);
    case 'number':
    case 'quantity':
      return addNumber(entries, parameter.code, value);
    case 'uri':
      if (typeof value === 'string') entries.uri({ param: parameter.code, uri: truncateIndexText(value) });
  }
}

type Json = Record<string, unknown>;

const text = (value: unknown): string | undefined => (typeof value === 'string' && value !== '' ? value : undefined);

function addToken(entries: EntryCollector, param: string, value: unknown): void {
  if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') {
    if (value !== '') entries.token({ param, system: '', code: truncateIndexText(String(value)) });
    return;
  }
  if (!isObject(value)) return;
  if (Array.isArray(value.coding)) {
    for (const coding of value.coding) addCoding(entries, param, coding);
  } else if (text(value.code)) {
    addCoding(entries, param, value);
  } else if (text(value.value)) {
    // Identifier and ContactPoint: system|value.
    entries.token({ param, system: truncateIndexText(text(value.system) ?? ''), code: truncateIndexText(value.value as string) });
    addIdentifierType(entries, param, value);
  }
}

function addCoding(entries: EntryCollector, param: string, coding: unknown): void {
  if (!isObject(coding) || !text(coding.code)) return;
  entries.token({ param, system: truncateIndexText(text(coding.system) ?? ''), code: truncateIndexText(coding.code as string) });
}

function addIdentifierType(entries: EntryCollector, param: string, identifier: Json): void {
  const type = identifier.type;
  if (!isObject(type) || !Array.isArray(type.coding)) return;
  for (const coding of type.coding) {
    if (isObject(coding) && text(coding.code)) {
      const code = truncateIndexText(`${coding.code}|${identifier.value}`);
      entries.token({ param: ofTypeParam(param), system: truncateIndexText(text(coding.system) ?? ''), code });
    }
  }
}

const NAME_PARTS = ['family', 'given', 'prefix', 'suffix', 'text'];
const ADDRESS_PARTS = ['line', 'city', 'district', 'state', 'postalCode', 'country', 'text'];

function addString(entries: EntryCollector, param: string, value: unknown): void {
  if (typeof value === 'string') {
    if (value.trim() !== '') entries.string({ param, normalized: normalizeString(value), exact: truncateIndexText(value) });
    return;
  }
  if (!isObject(value)) return;
  const parts = 'family' in value || 'given' in value ? NAME_PARTS : ADDRESS_PARTS;
  for (const part of parts) {
    const partValue = value[part];
    for (const item of Array.isArray(partValue) ? partValue : [partValue]) addString(entries, param, typeof item === 'string' ? item : undefined);
  }
}

function addReference(entries: EntryCollector, param: string, value: unknown): void {
  if (typeof value === 'string') {
    // canonical or uri: as written, and without its |version.
    entries.reference({ param, reference: truncateIndexText(value) });
    if (value.includes('|')) entries.reference({ param, reference: truncateIndexText(value.slice(0, value.indexOf('|'))) });
    return;
  }
  if (!isObject(value)) return;
  if (typeof value.resourceType === 'string' && typeof value.id === 'string') {
    entries.reference({ param, reference: `${value.resourceType}/${value.id}` });
    return;
  }
  const reference = text(value.reference);
  if (reference && !reference.startsWith('#')) {
    const relative = relativeReference(reference);
    const withoutHistory = reference.replace(/\/_history\/[^/]+$/, '');
    if (withoutHistory !== relative) entries.reference({ param, reference: truncateIndexText(withoutHistory) });
    if (relative) entries.reference({ param, reference: relative });
  }
  if (isObject(value.identifier)) addToken(entries, referenceIdentifierParam(param), value.identifier);
}

function addDate(entries: EntryCollector, param: string, value: unknown): void {
  if (typeof value === 'string') {
    const range = dateRange(value);
    if (range) entries.date({ param, ...range });
    return;
  }
  if (!isObject(value)) return;
  if ('start' in value || 'end' in value) {
    const start = typeof value.start === 'string' ? dateRange(value.start)?.start : EARLIEST;
    const end = typeof value.end === 'string' ? dateRange(value.end)?.end : LATEST;
    if (start !== undefined && end !== undefined && (value.start !== undefined || value.end !== undefined)) {
      entries.date({ param, start, end });
    }
  } else if (Array.isArray(value.event)) {
    // Timing: each event.
    for (const event of value.event) addDate(entries, param, event);
  }
}

function addNumber(entries: EntryCollector, param: string, value: unknown): void {
  if (typeof value === 'number' && Number.isFinite(value)) {
    entries.number({ param, value, system: '', code: '' });
  } else if (isObject(value) && typeof value.value === 'number' && Number.isFinite(value.value)) {
    const code = text(value.code) ?? text(value.unit) ?? '';
    entries.number({ param, value: value.value, system: truncateIndexText(text(value.system) ?? ''), code: truncateIndexText(code) });
  }
}

/** Collects entries without duplicates (a value found twice by one parameter is indexed once). */
class EntryCollector {
  private readonly seen = new Set<string>();
  private readonly entries: IndexEntries = { token: [], string: [], reference: [], date: [], number: [], uri: [] };

  token(entry: TokenEntry) {
    this.add('token', entry, `${entry.param}\u0000${entry.system}\u0000${entry.code}`);
  }
  string(entry: StringEntry) {
    this.add('string', entry, `${entry.param}\u0000${entry.exact}`);
  }
  reference(entry: ReferenceEntry) {
    this.add('reference', entry, `${entry.param}\u0000${entry.reference}`);
  }
  date(entry: DateEntry) {
    this.add('date', entry, `${entry.param}\u0000${entry.start}\u0000${entry.end}`);
  }
  number(entry: NumberEntry) {
    this.add('number', entry, `${entry.param}\u0000${entry.value}\u0000${entry.system}\u0000${entry.code}`);
  }
  uri(entry: UriEntry) {
    this.add('uri', entry, `${entry.param}\u0000${entry.uri}`);
  }

  result(): IndexEntries {
    return this.entries;
  }

  private add<K extends keyof IndexEntries>(kind: K, entry: IndexEntries[K][number], key: string): void {
    const unique = `${kind}\u0000${key}`;
    if (this.seen.has(unique)) return;
    if (this.seen.size === MAX_INDEX_ENTRIES) throw new UnindexableResource(`it has more than ${MAX_INDEX_ENTRIES} search index entries`);
    this.seen.add(unique);
    (this.entries[kind] as IndexEntries[K][number][]).push(entry);
  }
}
