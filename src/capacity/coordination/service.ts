import { randomUUID } from 'node:crypto';
import type { Principal } from '../../auth/principal.js';
import type { TrustedOrganization } from '../../config/config.js';
import { allOk, created, forbidden, issue, outcome } from '../../fhir/outcome.js';
import type { FhirResponse } from '../../fhir/rest/types.js';
import { parseSearchRequest } from '../../fhir/search/parse.js';
import type { Resource } from '../../fhir/version.js';
import type { Scope, Store } from '../../store/repository.js';
import { AVAILABILITY_REPORT_PROFILE, DATA_ABSENT_REASON_EXTENSION, URA_SYSTEM } from '../canonical.js';
import { objects } from '../json.js';
import { UNKNOWN } from '../model.js';
import { CapacityBoard } from './board.js';
import { matchCapacity, matchResult, parseMatchQuery } from './match.js';
import { readPublication, type ProviderListing } from './publication.js';

/** What changed on a coordination point's board: for subscriptions (topic "capacity changed"). */
export interface BoardChange {
  tenant: string;
  provider: string;
  careTypes: string[];
  /** The provider's report as now stored and served. */
  report: Resource;
  /** The store of the transaction that stores the report. */
  store: Store;
}

export interface CoordinationPointOptions {
  trusted: TrustedOrganization[];
  /** A provider silent longer than this shows as unknown. */
  staleAfterMs: number;
  /**
   * Raises the change's subscription events, inside the transaction that stores the report: if it throws, the report
   * is not stored either (and the board stays as it was), so the provider's gateway gets an error and sends it again.
   */
  onChange?: (change: BoardChange) => Promise<void>;
}

const PAGE = 500;

/**
 * Change-feed topic: a provider's report was stored. The message (JSON) names the tenant, the MeasureReport id and
 * version, and the instance that stored it.
 */
export const BOARD_CHANGED = 'capacity.board';
type BoardSignal = [tenant: string, id: string, versionId: string, instance: string];

/**
 * The coordination point role: receives providers' reports, keeps one board per coordination-point tenant (in
 * memory, rebuilt from the store at start), stores each provider's latest report as `MeasureReport/ura-<URA>` so
 * FHIR search and subscriptions serve it, turns silent providers unknown in the store as on the board, and answers
 * `$match-capacity`.
 */
export class CoordinationPoint {
  private readonly boards = new Map<string, CapacityBoard>();
  /** Per tenant: providers whose stored report already shows their stale counts as unknown. */
  private readonly shownStale = new Map<string, Set<string>>();
  /** Tells this instance's own signals from those of other instances on the same database. */
  private readonly instance = randomUUID();

  constructor(private readonly options: CoordinationPointOptions) {}

  board(tenant: string): CapacityBoard {
    let board = this.boards.get(tenant);
    if (!board) {
      board = new CapacityBoard(this.options.staleAfterMs);
      this.boards.set(tenant, board);
      this.shownStale.set(tenant, new Set());
    }
    return board;
  }

  /** POST MeasureReport by a provider's gateway (purpose capacity-publication). */
  async receive(store: Store, scope: Scope, principal: Principal, payload: unknown, now: Date): Promise<FhirResponse> {
    const publication = readPublication(payload, now);
    if ('resourceType' in publication) return [publication];
    const publisher = this.options.trusted.find((organization) => organization.id === principal.requester);
    const own = publication.provider.identifiers.some((identifier) => identifier.system === URA_SYSTEM && identifier.value === publisher?.ura);
    if (!publisher?.ura || !own) return [forbidden(`Organisation '${principal.requester}' may publish only its own availability (its configured URA)`)];
    const board = this.board(scope.tenant);
    const careTypes = board.changedCareTypes(publication);
    if (!careTypes) return [outcome('ok', [issue('information', 'informational', 'Older than the report on the board; not applied')])];
    const report = { ...publication.report, id: reportId(publication.provider) };
    const stored = await store.transaction(async (tx) => {
      const stored = await this.storeReport(tx, scope, report, { provider: publication.provider.key, careTypes });
      const signal: BoardSignal = [scope.tenant, String(stored.resource.id), String(stored.resource.meta?.versionId), this.instance];
      await tx.changes.publish(BOARD_CHANGED, JSON.stringify(signal));
      return stored;
    });
    // Only a committed report goes on the board: the board never shows what the store (and subscribers) lack.
    board.apply(publication);
    this.shownStale.get(scope.tenant)!.delete(publication.provider.key);
    return [stored.created ? created : allOk, stored.resource];
  }

  /** GET or POST MeasureReport/$match-capacity. */
  match(scope: Scope, parameters: Record<string, string[] | undefined>, now: Date): FhirResponse {
    const query = parseMatchQuery(parameters, now);
    if ('resourceType' in query) return [query];
    return [allOk, matchResult(query, matchCapacity(this.board(scope.tenant), query, now))];
  }

  /** Rewrites the stored report of every provider that turned stale: its counts become unknown there too. */
  async sweep(store: Store, now: Date): Promise<void> {
    for (const [tenant, board] of this.boards) {
      const shown = this.shownStale.get(tenant)!;
      for (const key of board.staleProviders(now).filter((provider) => !shown.has(provider))) {
        const scope: Scope = { tenant, version: 'r4' };
        const careTypes = board.allRows(now, key).map((row) => row.careType);
        await store.transaction(async (tx) => {
          const report = markedUnknown(await tx.resources.read(scope, 'MeasureReport', reportId(board.provider(key)!)));
          await this.storeReport(tx, scope, report, { provider: key, careTypes });
        });
        shown.add(key);
      }
    }
  }

  /**
   * Stores a provider's report and raises the subscription events of its change in one transaction, so that a
   * change is never stored without its events (nor the events raised for a change that was not stored).
   */
  private storeReport(store: Store, scope: Scope, report: Resource, change: Pick<BoardChange, 'provider' | 'careTypes'>) {
    return store.transaction(async (tx) => {
      const stored = await tx.resources.update(scope, report);
      if (change.careTypes.length > 0) await this.options.onChange?.({ tenant: scope.tenant, ...change, report: stored.resource, store: tx });
      return stored;
    });
  }

  /**
   * A `BOARD_CHANGED` signal (the store's change feed: on a shared PostgreSQL database every instance hears it):
   * applies the report version another instance of this coordination point stored, exactly that version, so that a
   * report this instance is receiving at the same moment still finds the board as it was before it (and sees its own
   * change). Without a message signals may have been missed: the boards are rebuilt from the store.
   */
  async refresh(store: Store, tenants: string[], message: string | undefined, now: Date): Promise<void> {
    if (message === undefined) return this.rebuild(store, tenants, now);
    const [tenant, id, versionId, instance] = JSON.parse(message) as BoardSignal;
    if (instance === this.instance || !tenants.includes(tenant)) return;
    const report = await store.resources.vread({ tenant, version: 'r4' }, 'MeasureReport', id, versionId).catch(() => undefined);
    const publication = report && readPublication(report, now);
    if (!publication || 'resourceType' in publication) return;
    const board = this.board(tenant);
    if (!board.accepts(publication)) return;
    board.apply(publication);
    this.shownStale.get(tenant)!.delete(publication.provider.key);
  }

  /** Fills the boards of the given coordination-point tenants from the reports stored there. */
  async rebuild(store: Store, tenants: string[], now: Date): Promise<void> {
    for (const tenant of tenants) {
      const board = this.board(tenant);
      const scope: Scope = { tenant, version: 'r4' };
      for (let offset = 0; ; offset += PAGE) {
        const request = parseSearchRequest('r4', 'MeasureReport', { _profile: AVAILABILITY_REPORT_PROFILE, _count: String(PAGE) });
        const page = await store.resources.search(scope, { ...request, offset });
        for (const report of page.resources) {
          const publication = readPublication(report, now);
          if (!('resourceType' in publication)) board.apply(publication);
        }
        if (!page.hasMore) break;
      }
    }
  }
}

/** Where a provider's latest report is stored at the coordination point: `ura-<URA>` (or `agb-<AGB>`). */
export function reportId(provider: ProviderListing): string {
  const [system, value] = provider.key.split('|');
  return `${system === URA_SYSTEM ? 'ura' : 'agb'}-${value}`;
}

function markedUnknown(report: Resource): Resource {
  const unknown = { _count: { extension: [{ url: DATA_ABSENT_REASON_EXTENSION, valueCode: UNKNOWN.absent }] } };
  return {
    ...report,
    group: objects(report.group).map((group) => ({
      ...group,
      population: objects(group.population).map(({ count: _count, _count: _absent, ...population }) => ({ ...population, ...unknown })),
    })),
  };
}
