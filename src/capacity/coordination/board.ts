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
    const changed = this.changedCareTypes(publication);
    if (changed === undefined) return undefined;
    const { provider, publishedAt } = publication;
    this.providers.set(provider.key, { listing: provider, publishedAt });
    const entries = entriesOf(publication);
    const reported = new Set(entries.map((entry) => entry.careType));
    for (const [careType, onBoard] of this.byCareType) if (!reported.has(careType)) onBoard.delete(provider.key);
    for (const entry of entries) {
      const onBoard = this.byCareType.get(entry.careType) ?? new Map<string, BoardEntry>();
      this.byCareType.set(entry.careType, onBoard);
      onBoard.set(provider.key, entry);
    }
    return changed;
  }

  /** The care types whose entry `apply` would change, without changing the board; undefined as for `apply`. */
  changedCareTypes(publication: Publication): string[] | undefined {
    if (!this.accepts(publication)) return undefined;
    const key = publication.provider.key;
    const entries = entriesOf(publication);
    const reported = new Set(entries.map((entry) => entry.careType));
    const changed = new Set<string>();
    for (const [careType, onBoard] of this.byCareType) {
      if (!reported.has(careType) && onBoard.has(key)) changed.add(careType);
    }
    for (const entry of entries) {
      const previous = this.byCareType.get(entry.careType)?.get(key);
      if (!previous || !sameEntry(previous, entry)) changed.add(entry.careType);
    }
    return [...changed];
  }

  /** False for a report older than the one of the same provider on the board. */
  accepts(publication: Publication): boolean {
    const known = this.providers.get(publication.provider.key);
    return !known || known.publishedAt <= publication.publishedAt;
  }

  provider(key: string): ProviderListing | undefined {
    return this.providers.get(key)?.listing;
  }

  /** The keys of the providers with at least one stale row at `now`. */
  staleProviders(now: Date): string[] {
    const cutoff = staleBefore(now, this.staleAfterMs);
    const stale = new Set<string>();
    for (const entries of this.byCareType.values()) {
      for (const entry of entries.values()) if (entry.measuredAt < cutoff) stale.add(entry.provider);
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
}

function entriesOf({ provider, availability }: Publication): BoardEntry[] {
  return availability.groups.map((group) => ({ provider: provider.key, ...group, measuredAt: availability.measuredAt }));
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
