import type { DirectoryListing } from '../../directory/query-directory.js';
import { badRequest, type OperationOutcome } from '../../fhir/outcome.js';
import type { Resource } from '../../fhir/version.js';
import { DATA_ABSENT_REASON_EXTENSION } from '../canonical.js';
import { careType } from '../../vocabulary/care-types.js';
import { isKnown, type Count } from '../model.js';
import type { BoardRow, CapacityBoard } from './board.js';
import { postcode4, postcode4Distance } from './postcode.js';
import type { ProviderListing } from './publication.js';
import { CARE_TYPE_SYSTEM } from '../../vocabulary/canonical.js';

/**
 * `$match-capacity` (conformance/OperationDefinition-MeasureReport-match-capacity.json): which providers can take a
 * client with this care need near this place? Ranked: places free first (unknown after, when asked for), then
 * postcode-4 proximity, then the freshest count. Providers with no free place are not candidates.
 */
export interface MatchQuery {
  careType: string;
  postalCode?: string;
  region?: string;
  /** The day the place is needed (YYYY-MM-DD). The board is a picture of now; the date is checked and echoed. */
  date: string;
  count: number;
  includeUnknown: boolean;
}

export interface Candidate {
  provider: ProviderListing;
  row: BoardRow;
  /** Postcode-4 distance to the asked postcode, when both are known. */
  distance?: number;
}

export const DEFAULT_MATCH_COUNT = 10;
export const MAX_MATCH_COUNT = 100;

export function parseMatchQuery(parameters: Record<string, string[] | undefined>, now: Date): MatchQuery | OperationOutcome {
  const one = (name: string) => parameters[name]?.[0];
  const type = careType(one('care-type')?.replace(`${CARE_TYPE_SYSTEM}|`, ''));
  if (!type) return badRequest(`care-type must be a code from ${CARE_TYPE_SYSTEM}`, 'care-type');
  const postalCode = one('postcode');
  const region = one('region');
  if (postalCode === undefined && region === undefined) return badRequest('Give the place as postcode or region', 'postcode');
  if (postalCode !== undefined && postcode4(postalCode) === undefined) return badRequest('postcode must be a Dutch postcode (1234 or 1234 AB)', 'postcode');
  const today = amsterdamDate(now);
  const date = one('date') ?? today;
  if (!isCalendarDate(date)) return badRequest('date must be a calendar date YYYY-MM-DD', 'date');
  if (date < today) return badRequest(`date ${date} lies in the past`, 'date');
  const count = Number(one('count') ?? DEFAULT_MATCH_COUNT);
  if (!Number.isInteger(count) || count < 1 || count > MAX_MATCH_COUNT) return badRequest(`count must be 1..${MAX_MATCH_COUNT}`, 'count');
  const includeUnknown = one('include-unknown') ?? 'false';
  if (includeUnknown !== 'true' && includeUnknown !== 'false') return badRequest('include-unknown must be true or false', 'include-unknown');
  return {
    careType: type.code,
    ...(postalCode === undefined ? {} : { postalCode }),
    ...(region === undefined ? {} : { region }),
    date,
    count,
    includeUnknown: includeUnknown === 'true',
  };
}

function isCalendarDate(value: string): boolean {
  const time = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
  return !Number.isNaN(time) && new Date(time).toISOString().startsWith(value);
}

function amsterdamDate(now: Date): string {
  return new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Amsterdam' }).format(now);
}

/** 0: places free; 1: unknown; 2: none free (not a candidate). */
function tier(available: Count): number {
  if (!isKnown(available)) return 1;
  return available > 0 ? 0 : 2;
}

/** Board times are UTC ISO instants of one format, so text order is time order. */
function order(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    tier(a.row.available) - tier(b.row.available) ||
    (a.distance ?? Number.MAX_SAFE_INTEGER) - (b.distance ?? Number.MAX_SAFE_INTEGER) ||
    order(b.row.measuredAt, a.row.measuredAt) ||
    order(a.provider.key, b.provider.key)
  );
}

/** Qualifies board rows for a query: region, free places (or unknown when asked for), postcode-4 distance. */
export function candidateFilter(query: MatchQuery): (row: BoardRow, provider: ProviderListing | undefined) => Candidate | undefined {
  const from = postcode4(query.postalCode);
  return (row, provider) => {
    if (!provider || (query.region !== undefined && provider.region !== query.region)) return undefined;
    const level = tier(row.available);
    if (level === 2 || (level === 1 && !query.includeUnknown)) return undefined;
    const to = postcode4(provider.postalCode);
    return from === undefined || to === undefined ? { provider, row } : { provider, row, distance: postcode4Distance(from, to) };
  };
}

export function matchCapacity(board: CapacityBoard, query: MatchQuery, now: Date): Candidate[] {
  const qualify = candidateFilter(query);
  return board
    .rows(query.careType, now)
    .flatMap((row) => qualify(row, board.provider(row.provider)) ?? [])
    .sort(compareCandidates)
    .slice(0, query.count);
}

/** The operation's answer: a Parameters resource with one `candidate` per provider, best first. */
export function matchResult(query: MatchQuery, candidates: Candidate[], listings: DirectoryListing[] = []): Resource {
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'care-type', valueCoding: { system: CARE_TYPE_SYSTEM, code: query.careType, display: careType(query.careType)?.display } },
      { name: 'date', valueDate: query.date },
      ...candidates.map((candidate, index) => ({ name: 'candidate', part: [...candidateParts(candidate, index + 1), ...listingParts(listings[index])] })),
    ],
  };
}

function candidateParts({ provider, row, distance }: Candidate, rank: number): Record<string, unknown>[] {
  return [
    { name: 'rank', valueInteger: rank },
    ...provider.identifiers.map((identifier) => ({ name: 'provider', valueIdentifier: identifier })),
    { name: 'name', valueString: provider.name },
    ...(provider.region === undefined ? [] : [{ name: 'region', valueId: provider.region }]),
    ...(provider.postalCode === undefined ? [] : [{ name: 'postcode', valueString: provider.postalCode }]),
    ...(distance === undefined ? [] : [{ name: 'distance', valueInteger: distance }]),
    countPart('available', row.available),
    ...(row.total === undefined ? [] : [countPart('total', row.total)]),
    { name: 'measured-at', valueInstant: row.measuredAt },
    { name: 'stale', valueBoolean: row.stale },
    ...provider.endpoints.map((endpoint) => ({ name: 'endpoint', resource: endpoint })),
  ];
}

/** The candidate's Organization and HealthcareService in the query directory, when it holds them. */
function listingParts(listing: DirectoryListing | undefined): Record<string, unknown>[] {
  return [
    ...(listing?.organization ? [{ name: 'organization', valueReference: listing.organization }] : []),
    ...(listing?.healthcareService ? [{ name: 'healthcareService', valueReference: listing.healthcareService }] : []),
  ];
}

function countPart(name: string, count: Count): Record<string, unknown> {
  return isKnown(count)
    ? { name, valueInteger: count }
    : { name, _valueInteger: { extension: [{ url: DATA_ABSENT_REASON_EXTENSION, valueCode: count.absent }] } };
}
