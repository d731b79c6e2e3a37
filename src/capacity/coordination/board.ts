import { isKnown, UNKNOWN, type Count } from '../model.js';
import type { ProviderListing, Publication } from './publication.js';

/** One provider's latest count for one care type, with the moment it was true (UTC ISO instants throughout). */
export interface BoardEntry {
  provider: string;
  careType: string;
  available: Count;
  total?: Count;
  measuredAt: string;
}

/** An entry as the board shows it now: older than the staleness period, its counts are unknown. */
export interface BoardRow extends BoardEntry {
  stale: boolean;
}

/**
 * The coordination point's picture of the region: the latest count per provider per care type. A provider
 * silent for longer than `staleAfterMs` shows as unknown (data-absent-reason), never with old numbers as current.
 */
export class CapacityBoard {
  private readonly providers = new Map<string, { listing: ProviderListing; publishedAt: string }>();
  private readonly byCareType = new Map<string, Map<string, BoardEntry>>();

  constructor(readonly staleAfterMs: number) {}

  /**
   * Applies a provider's publication: its report is its whole picture, so care types it no longer reports leave the
   * board. Returns the care types whose entry changed, or undefined for a report older than the one on the board.
   */
  apply(publication: Publication): string[] | undefined {
    const { provider, publishedAt } = publication;
    if (!isNotOlder(publication, this.providers.get(provider.key))) return undefined;
    const entries = entriesOf(publication);
    const changed = changedCareTypes(this.entriesOfProvider(provider.key), entries);
    this.providers.set(provider.key, { listing: provider, publishedAt });
    const reported = new Set(entries.map((entry) => entry.careType));
    for (const [careType, onBoard] of this.byCareType) if (!reported.has(careType)) onBoard.delete(provider.key);
    for (const entry of entries) {
      const onBoard = this.byCareType.get(entry.careType) ?? new Map<string, BoardEntry>();
      this.byCareType.set(entry.careType, onBoard);
      onBoard.set(provider.key, entry);
    }
    return changed;
  }

  provider(key: string): ProviderListing | undefined {
    return this.providers.get(key)?.listing;
  }

  /** The keys of the providers with an entry that still shows a count gone stale at `now` (see `showsStaleCount`). */
  staleProviders(now: Date): string[] {
    const cutoff = staleBefore(now, this.staleAfterMs);
    const stale = new Set<string>();
    for (const entries of this.byCareType.values()) {
      for (const entry of entries.values()) if (isStaleCount(entry, cutoff)) stale.add(entry.provider);
    }
    return [...stale];
  }

  /** The rows for one care type as shown at `now`. */
  rows(careType: string, now: Date): BoardRow[] {
    const cutoff = staleBefore(now, this.staleAfterMs);
    return [...(this.byCareType.get(careType)?.values() ?? [])].map((entry) => shown(entry, cutoff));
  }

  /** Every row on the board as shown at `now`, optionally for one provider. */
  allRows(now: Date, provider?: string): BoardRow[] {
    return [...this.byCareType.keys()]
      .flatMap((careType) => this.rows(careType, now))
      .filter((row) => provider === undefined || row.provider === provider);
  }

  private entriesOfProvider(provider: string): BoardEntry[] {
    return [...this.byCareType.values()].flatMap((onBoard) => onBoard.get(provider) ?? []);
  }
}

/** Whether a report may replace a provider's `latest` one: the reports of one provider are ordered by `date`. */
export function isNotOlder(publication: Publication, latest: { publishedAt: string } | undefined): boolean {
  return !latest || latest.publishedAt <= publication.publishedAt;
}

/** A provider's picture as board entries, one per care type it reports. */
export function entriesOf({ provider, availability }: Publication): BoardEntry[] {
  return availability.groups.map((group) => ({ provider: provider.key, ...group, measuredAt: availability.measuredAt }));
}

/** The care types whose entry differs between two pictures of one provider, those in only one of them included. */
export function changedCareTypes(before: BoardEntry[], after: BoardEntry[]): string[] {
  const reported = new Set(after.map((entry) => entry.careType));
  const changed = new Set(before.filter((entry) => !reported.has(entry.careType)).map((entry) => entry.careType));
  for (const entry of after) {
    const previous = before.find((candidate) => candidate.careType === entry.careType);
    if (!previous || !sameEntry(previous, entry)) changed.add(entry.careType);
  }
  return [...changed];
}

/**
 * Whether a provider's report still shows a count that is stale at `cutoff` (see `staleBefore`): the coordination
 * point's sweep marks such a stored report unknown; once marked (or with no count to begin with) there is nothing to do.
 */
export function showsStaleCount(publication: Publication, cutoff: string): boolean {
  return entriesOf(publication).some((entry) => isStaleCount(entry, cutoff));
}

function isStaleCount(entry: BoardEntry, cutoff: string): boolean {
  return entry.measuredAt < cutoff && (isKnown(entry.available) || isKnown(entry.total));
}

/** The measurement time before which a count is stale at `now`, as a UTC ISO instant like the board's times. */
export function staleBefore(now: Date, staleAfterMs: number): string {
  return new Date(now.getTime() - staleAfterMs).toISOString();
}

/** An entry as shown; board times are UTC ISO instants of one format, so text order is time order. */
export function shown(entry: BoardEntry, cutoff: string): BoardRow {
  if (entry.measuredAt >= cutoff) return { ...entry, stale: false };
  return { ...entry, available: UNKNOWN, ...(entry.total === undefined ? {} : { total: UNKNOWN }), stale: true };
}

function sameCount(a: Count | undefined, b: Count | undefined): boolean {
  return isKnown(a) || isKnown(b) ? a === b : (a?.absent ?? null) === (b?.absent ?? null);
}

function sameEntry(a: BoardEntry, b: BoardEntry): boolean {
  return a.measuredAt === b.measuredAt && sameCount(a.available, b.available) && sameCount(a.total, b.total);
}
