import { randomUUID } from 'node:crypto';
import type { Principal } from '../../fhir/principal.js';
import type { TrustRegistry } from '../../auth/trust.js';
import type { TrustedOrganization } from '../../config/config.js';
import { allOk, created, forbidden, issue, outcome, type OperationOutcome } from '../../fhir/outcome.js';
import type { FhirResponse } from '../../rest/types.js';
import { parseSearchRequest } from '../../fhir/search/parse.js';
import type { Resource } from '../../fhir/version.js';
import type { Logger } from '../../logging/logger.js';
import type { Scope } from '../../store/repository.js';
import { AVAILABILITY_REPORT_PROFILE, DATA_ABSENT_REASON_EXTENSION } from '../canonical.js';
import { objects } from '../../vocabulary/json.js';
import type { UnitOfWork } from '../../store/repository.js';
import { CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../vocabulary/canonical.js';
import { directoryListing } from '../../directory/query-directory.js';
import { UNKNOWN } from '../model.js';
import { optimisticTransaction, writeOver } from '../../store/optimistic.js';
import { CapacityBoard, changedCareTypes, entriesOf, isNotOlder, showsStaleCount, staleBefore } from './board.js';
import { matchCapacity, matchResult, parseMatchQuery } from './match.js';
import { foreignIdentityClaim, knownIdentity, type ForeignClaim } from './identity.js';
import { readPublication, type ProviderListing, type Publication } from './publication.js';
import { readOptional } from '../../store/optional.js';

/** What changed on a coordination point's board: for subscriptions (topic "capacity changed"). */
export interface BoardChange {
  tenant: string;
  provider: string;
  careTypes: string[];
  /** The provider's report as now stored and served. */
  report: Resource;
}

/** Who may publish: the trust registry's organisations (`trusted[]`, then those found in the care-services directory). */
export type Publishers = Pick<TrustRegistry, 'trusted' | 'trustedByUra'>;

/** Publishers from a list of organisations alone (a gateway without a trust registry at hand, tests). */
export function listedPublishers(trusted: readonly TrustedOrganization[]): Publishers {
  return {
    trusted: (id) => trusted.find((organization) => organization.id === id),
    trustedByUra: (ura) => trusted.find((organization) => organization.ura === ura),
  };
}

export interface CoordinationPointOptions {
  publishers: Publishers;
  /** A provider silent longer than this shows as unknown. */
  staleAfterMs: number;
  /**
   * Raises the change's subscription events, inside the transaction that stores the report: if it throws, the report
   * is not stored either (and the board stays as it was), so the provider's gateway gets an error and sends it again.
   * `tx` is the unit of work of that transaction.
   */
  onChange?: (change: BoardChange, tx: UnitOfWork) => Promise<void>;
  logger: Logger;
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
  /** Tells this instance's own signals from those of other instances on the same database. */
  private readonly instance = randomUUID();

  constructor(private readonly options: CoordinationPointOptions) {}

  board(tenant: string): CapacityBoard {
    let board = this.boards.get(tenant);
    if (!board) {
      board = new CapacityBoard(this.options.staleAfterMs);
      this.boards.set(tenant, board);
    }
    return board;
  }

  /** POST MeasureReport by a provider's gateway (purpose capacity-publication). */
  async receive(store: UnitOfWork, scope: Scope, principal: Principal, payload: unknown, now: Date): Promise<FhirResponse> {
    const publication = readPublication(payload, now);
    if ('resourceType' in publication) return [publication];
    const publisher = this.options.publishers.trusted(principal.requester);
    const own = publication.provider.identifiers.some((identifier) => identifier.system === URA_SYSTEM && identifier.value === publisher?.ura);
    if (!publisher?.ura || !own) return [forbidden(`Organisation '${principal.requester}' may publish only its own availability (its configured URA)`)];
    const claim = foreignIdentityClaim(payload, knownIdentity(publisher));
    if (claim) return [foreignClaimRefused(claim, publisher)];
    const stored = await this.replaceReport(store, scope, reportId(publication.provider), now, (current) =>
      isNotOlder(publication, current) ? publication : undefined,
    );
    if (!stored) return [outcome('ok', [issue('information', 'informational', 'Older than the report on the board; not applied')])];
    return [stored.created ? created : allOk, stored.resource];
  }

  /** GET or POST MeasureReport/$match-capacity; each candidate with its Organization and HealthcareService of the query directory. */
  async match(store: UnitOfWork, scope: Scope, parameters: Record<string, string[] | undefined>, now: Date): Promise<FhirResponse> {
    const query = parseMatchQuery(parameters, now);
    if ('resourceType' in query) return [query];
    const candidates = matchCapacity(this.board(scope.tenant), query, now);
    const listings = await Promise.all(
      candidates.map((candidate) => {
        const ura = candidate.provider.identifiers.find((identifier) => identifier.system === URA_SYSTEM)?.value;
        return ura === undefined ? {} : directoryListing(store, ura, CARE_TYPE_SYSTEM, query.careType);
      }),
    );
    return [allOk, matchResult(query, candidates, listings)];
  }

  /**
   * Rewrites the stored report of every provider that turned stale: its counts become unknown there too. A provider
   * that fails is logged and tried again by the next sweep; the others are swept all the same.
   */
  async sweep(store: UnitOfWork, now: Date): Promise<void> {
    for (const [tenant, board] of this.boards) {
      const scope: Scope = { tenant, version: 'r4' };
      for (const provider of board.staleProviders(now)) {
        await this.markUnknown(store, scope, reportId(board.provider(provider)!), now).catch((error: unknown) => {
          this.options.logger.error({ err: error, tenant, provider }, 'could not mark a silent provider unknown; the next sweep tries again');
        });
      }
    }
  }

  /**
   * Marks a provider's stored report unknown if it still shows a stale count: the board only says which providers to
   * look at, the stored report decides (a fresh report may have arrived, another instance may have marked it).
   */
  private markUnknown(store: UnitOfWork, scope: Scope, id: string, now: Date) {
    const cutoff = staleBefore(now, this.options.staleAfterMs);
    return this.replaceReport(store, scope, id, now, (current) =>
      current && showsStaleCount(current, cutoff) ? publicationOf(markedUnknown(current.report), now) : undefined,
    );
  }

  /**
   * Replaces a provider's stored report with what `next` makes of the one stored (undefined: leaves it), decided and
   * written in one transaction with optimistic locking, so that a concurrent writer makes it decide again on what
   * that writer stored. The change's subscription events and the change-feed signal are raised in that transaction,
   * so a change is never stored without them (nor they raised for a change that was not stored). Only a committed
   * report goes on the board: the board never shows what the store (and subscribers) lack.
   */
  private async replaceReport(
    store: UnitOfWork,
    scope: Scope,
    id: string,
    now: Date,
    next: (current: Publication | undefined) => Publication | undefined,
  ): Promise<{ resource: Resource; created: boolean } | undefined> {
    const replaced = await optimisticTransaction(store, async (tx) => {
      const current = await readReport(tx, scope, id, now);
      const publication = next(current?.publication);
      if (!publication) return undefined;
      const stored = await writeOver(tx.resources, scope, { ...publication.report, id }, current?.versionId);
      const careTypes = changedCareTypes(current?.publication ? entriesOf(current.publication) : [], entriesOf(publication));
      if (careTypes.length > 0) {
        await this.options.onChange?.({ tenant: scope.tenant, provider: publication.provider.key, careTypes, report: stored.resource }, tx);
      }
      const signal: BoardSignal = [scope.tenant, id, String(stored.resource.meta?.versionId), this.instance];
      await tx.changes.publish(BOARD_CHANGED, JSON.stringify(signal));
      return { stored, publication };
    });
    if (replaced) this.board(scope.tenant).apply(replaced.publication);
    return replaced?.stored;
  }

  /**
   * A `BOARD_CHANGED` signal (the store's change feed: on a shared PostgreSQL database every instance hears it):
   * applies the report version another instance of this coordination point stored, exactly that version, so that a
   * report this instance is receiving at the same moment still finds the board as it was before it (and sees its own
   * change). Without a message signals may have been missed: the boards are rebuilt from the store.
   */
  async refresh(store: UnitOfWork, tenants: string[], message: string | undefined, now: Date): Promise<void> {
    if (message === undefined) return this.rebuild(store, tenants, now);
    const [tenant, id, versionId, instance] = JSON.parse(message) as BoardSignal;
    if (instance === this.instance || !tenants.includes(tenant)) return;
    const report = await store.resources.vread({ tenant, version: 'r4' }, 'MeasureReport', id, versionId).catch(() => undefined);
    const publication = report && this.storedPublication(report, now);
    if (publication) this.board(tenant).apply(publication);
  }

  /** Fills the boards of the given coordination-point tenants from the reports stored there. */
  async rebuild(store: UnitOfWork, tenants: string[], now: Date): Promise<void> {
    for (const tenant of tenants) {
      const board = this.board(tenant);
      const scope: Scope = { tenant, version: 'r4' };
      for (let offset = 0; ; offset += PAGE) {
        const request = parseSearchRequest('r4', 'MeasureReport', { _profile: AVAILABILITY_REPORT_PROFILE, _count: String(PAGE) });
        const page = await store.resources.search(scope, { ...request, offset });
        for (const report of page.resources) {
          const publication = this.storedPublication(report, now);
          if (publication) board.apply(publication);
        }
        if (!page.hasMore) break;
      }
    }
  }

  /**
   * A stored report as other organisations are shown it: only one the board takes, as the egress allowlist rebuilds
   * it. Other organisations see what the board is made of, never what the point's own EHR stored.
   */
  shownReport(report: Resource, now: Date): Resource | undefined {
    return this.storedPublication(report, now)?.report;
  }

  /**
   * A stored report as the board takes it: one stored by `receive` as its provider's report, naming no other
   * organisation than that provider as the trust registry knows it. Reports the tenant's own EHR stored, and any
   * accepted before publications were bound to their publisher, stay off the board.
   */
  private storedPublication(report: Resource, now: Date): Publication | undefined {
    const publication = publicationOf(report, now);
    if (!publication || report.id !== reportId(publication.provider)) return undefined;
    const [system, value] = publication.provider.key.split('|');
    const publisher = system === URA_SYSTEM && value !== undefined ? this.options.publishers.trustedByUra(value) : undefined;
    return publisher && !foreignIdentityClaim(report, knownIdentity(publisher)) ? publication : undefined;
  }
}

/** Where a provider's latest report is stored at the coordination point: `ura-<URA>` (or `agb-<AGB>`). */
export function reportId(provider: ProviderListing): string {
  const [system, value] = provider.key.split('|');
  return `${system === URA_SYSTEM ? 'ura' : 'agb'}-${value}`;
}

/**
 * A provider's stored report, read in the transaction that may replace it: its version, and what it says (undefined
 * for a report that cannot be read as a publication, which any report of the provider may then replace).
 */
async function readReport(store: UnitOfWork, scope: Scope, id: string, now: Date): Promise<{ versionId: string; publication?: Publication } | undefined> {
  const report = await readOptional(store.resources, scope, 'MeasureReport', id);
  return report && { versionId: String(report.meta?.versionId), publication: publicationOf(report, now) };
}

function foreignClaimRefused({ at, claim }: ForeignClaim, publisher: TrustedOrganization): OperationOutcome {
  const text = `${at} ('${claim}') is not '${publisher.id}': a publication may name only its publisher, as the trust registry knows it (URA, AGB, name '${publisher.name}')`;
  return outcome('forbidden', [issue('error', 'forbidden', text, at)]);
}

function publicationOf(report: Resource, now: Date): Publication | undefined {
  const publication = readPublication(report, now);
  return 'resourceType' in publication ? undefined : publication;
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
