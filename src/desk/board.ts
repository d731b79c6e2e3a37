import type { CapacityBoard } from '../capacity/coordination/board.js';
import { postcode4, postcode4Distance } from '../capacity/coordination/postcode.js';
import { isKnown, type Count } from '../capacity/model.js';
import { careType as careTypeOf } from '../vocabulary/care-types.js';

/** What the board is narrowed to (the filter form, in the query string of the page and its event stream). */
export interface BoardFilter {
  careType?: string;
  region?: string;
  postcode?: string;
  /** Postcode-4 distance from `postcode` (a ranking aid, see capacity/coordination/postcode.ts). */
  distance?: number;
}

export interface BoardLine {
  provider: string;
  name: string;
  region?: string;
  postalCode?: string;
  available?: number;
  total?: number;
  measuredAt: string;
  /** Silent too long: its counts are unknown since `measuredAt`. */
  stale: boolean;
}

export interface CareTypeSection {
  code: string;
  display: string;
  lines: BoardLine[];
  /** Places free and in total among the providers with known counts. */
  available: number;
  total: number;
  unknown: number;
}

export interface BoardView {
  sections: CareTypeSection[];
  /** The choices of the filter form. */
  careTypes: { code: string; display: string }[];
  regions: string[];
}

const known = (count: Count | undefined) => (isKnown(count) ? count : undefined);

/** Reads the filter form; anything unusable is left out rather than refused (a board is always shown). */
export function readBoardFilter(query: Record<string, string>): BoardFilter {
  const distance = Number(query.distance);
  return {
    ...(query['care-type'] ? { careType: query['care-type'] } : {}),
    ...(query.region ? { region: query.region } : {}),
    ...(postcode4(query.postcode) !== undefined ? { postcode: query.postcode.trim() } : {}),
    ...(query.distance && Number.isInteger(distance) && distance >= 0 ? { distance } : {}),
  };
}

export function boardFilterQuery(filter: BoardFilter): string {
  const entries = Object.entries({ 'care-type': filter.careType, region: filter.region, postcode: filter.postcode, distance: filter.distance });
  return new URLSearchParams(entries.flatMap(([key, value]) => (value === undefined ? [] : [[key, String(value)] as [string, string]]))).toString();
}

/** The coordination point's board as the desk shows it at `now`: per care type, per provider, with totals. */
export function boardView(board: CapacityBoard, filter: BoardFilter, now: Date): BoardView {
  const rows = board.allRows(now);
  const from = postcode4(filter.postcode);
  const near = (postalCode: string | undefined) => {
    if (from === undefined || filter.distance === undefined) return true;
    const to = postcode4(postalCode);
    return to !== undefined && postcode4Distance(from, to) <= filter.distance;
  };
  const lines = new Map<string, BoardLine[]>();
  const regions = new Set<string>();
  for (const row of rows) {
    const provider = board.provider(row.provider);
    if (!provider) continue;
    if (provider.region) regions.add(provider.region);
    if (filter.region !== undefined && provider.region !== filter.region) continue;
    if (filter.careType !== undefined && row.careType !== filter.careType) continue;
    if (!near(provider.postalCode)) continue;
    const line: BoardLine = {
      provider: row.provider,
      name: provider.name,
      ...(provider.region ? { region: provider.region } : {}),
      ...(provider.postalCode ? { postalCode: provider.postalCode } : {}),
      ...(known(row.available) === undefined ? {} : { available: known(row.available) }),
      ...(known(row.total) === undefined ? {} : { total: known(row.total) }),
      measuredAt: row.measuredAt,
      stale: row.stale,
    };
    lines.set(row.careType, [...(lines.get(row.careType) ?? []), line]);
  }
  const sections = [...lines].map(([code, of]) => section(code, of)).sort((a, b) => a.display.localeCompare(b.display));
  const careTypes = [...new Set(rows.map((row) => row.careType))].map((code) => ({ code, display: displayOf(code) }));
  return { sections, careTypes: careTypes.sort((a, b) => a.display.localeCompare(b.display)), regions: [...regions].sort() };
}

function section(code: string, lines: BoardLine[]): CareTypeSection {
  const sum = (of: (line: BoardLine) => number | undefined) => lines.reduce((total, line) => total + (of(line) ?? 0), 0);
  return {
    code,
    display: displayOf(code),
    lines: lines.sort((a, b) => (b.available ?? -1) - (a.available ?? -1) || a.name.localeCompare(b.name)),
    available: sum((line) => line.available),
    total: sum((line) => line.total),
    unknown: lines.filter((line) => line.available === undefined).length,
  };
}

export function displayOf(code: string): string {
  return careTypeOf(code)?.display ?? code;
}
