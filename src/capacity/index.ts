import { CAPACITY_SUBSCRIBER, DIRECTORY_READER } from '../auth/purposes.js';
import type { Resource } from '../fhir/version.js';
import type { Person } from '../fhir/principal.js';
import cron, { type ScheduledTask } from 'node-cron';
import type { Capability } from '../rest/capability-contract.js';
import { notFound, OperationOutcomeError } from '../fhir/outcome.js';
import { ConfigError, type GatewayConfig } from '../config/config.js';
import { createLogger, type Logger } from '../logging/logger.js';
import type { OutboxHandler } from '../outbox/dispatcher.js';
import type { Store } from '../store/repository.js';
import { statusOf } from '../transfer/task-status.js';
import type { UnitOfWork } from '../store/repository.js';
import type { TaskStatusListener } from '../transfer/events.js';
import { BOARD_CHANGED, CoordinationPoint, listedPublishers, type BoardChange, type Publishers } from './coordination/service.js';
import { shownToOthers } from './coordination/served.js';
import { Publisher, PUBLISH_KIND } from './provider/publisher.js';
import { coordinationPointFinder } from './provider/coordination-point.js';
import type { OutboundCall } from '../auth/client.js';
import type { RemoteEndpoint } from '../fhir/client/remote.js';
import { careTypeOfTask, ProviderCapacity } from './provider/service.js';
import { capacityRoutes } from './routes.js';

/**
 * The capacity capability, wired from configuration: provider intake and publication, the coordination point's
 * board and `$match-capacity` (routes of the R4 base), the egress allowlist on what others read there, and the
 * transfer hook (`main.ts` passes `onTaskStatusChange` to the transfer capability).
 */
export interface CapacityOptions {
  config: GatewayConfig;
  store: Store;
  /**
   * Outbound calls with Nuts-style tokens (auth's client): publications post; a hosted hospital's `$match-capacity` is
   * asked of the coordination point (read).
   */
  client: { remote(url: string, call: OutboundCall): Pick<RemoteEndpoint, 'post' | 'read'> };
  clock?: () => number;
  /** The trust registry: who may publish to a coordination point, and where the configured one is; `config.trusted` alone if not given. */
  publishers?: Publishers;
  /** Where failures of the background work (staleness sweep, board refresh) go; a logger of its own if not given. */
  logger?: Logger;
  /** Overrides `config.capacity.staleAfterMinutes` (tests). */
  staleAfterMs?: number;
  /** Overrides `config.capacity.publishDebounceMs` (tests). */
  publishDebounceMs?: number;
  /** node-cron expression of the staleness sweep at a coordination point (default every minute). */
  sweepSchedule?: string;
  /**
   * Told when a coordination point's board changed (subscriptions, topic "capacity changed"), inside the transaction
   * that stores the provider's report (its unit of work `tx`): throwing rolls the report back.
   */
  onBoardChange?: (change: BoardChange, tx: UnitOfWork) => Promise<void>;
}

export interface Capacity extends Capability {
  provider: ProviderCapacity;
  coordination: CoordinationPoint;
  publisher?: Publisher;
  /**
   * `$match-capacity` asked of the configured coordination point on a hosted organisation's behalf (query string),
   * naming the person behind the search (`usi`) when there is one.
   */
  askCoordinationPoint?: (tenant: string, query: string, person?: Person) => Promise<Resource>;
  outboxHandlers: Record<string, OutboxHandler>;
  /** The transfer hook: on the receiver's side, an accepted transfer takes a place, rejected/cancelled frees it. */
  onTaskStatusChange: TaskStatusListener;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_STALE_AFTER_MINUTES = 60;

export function createCapacity(options: CapacityOptions): Capacity {
  const { config, store } = options;
  const settings = config.capacity ?? {};
  if (settings.snapshotSchedule !== undefined && !cron.validate(settings.snapshotSchedule)) {
    throw new ConfigError(`invalid configuration: capacity.snapshotSchedule '${settings.snapshotSchedule}' is not a cron expression`);
  }
  const clock = options.clock ?? Date.now;
  const logger = options.logger ?? createLogger();
  const tenantsWith = (role: 'coordination-point') =>
    config.organizations.filter((organization) => organization.roles.includes(role)).map((organization) => organization.id);
  const publishers = options.publishers ?? listedPublishers(config.trusted);
  const coordinationPoint = coordinationPointFinder(config.coordinationPoint, publishers);

  let publisher: Publisher | undefined;
  const provider = new ProviderCapacity({
    organizations: config.organizations,
    publicBaseUrl: config.publicBaseUrl,
    publish: (tx, tenant) => publisher?.schedule(tx, tenant) ?? Promise.resolve(),
  });
  publisher =
    config.coordinationPoint &&
    new Publisher({
      store,
      provider,
      client: options.client,
      coordinationPoint,
      debounceMs: options.publishDebounceMs ?? settings.publishDebounceMs,
      snapshotSchedule: settings.snapshotSchedule,
      clock,
    });
  const coordination = new CoordinationPoint({
    publishers,
    staleAfterMs: options.staleAfterMs ?? (settings.staleAfterMinutes ?? DEFAULT_STALE_AFTER_MINUTES) * 60_000,
    onChange: options.onBoardChange,
    logger,
  });
  let sweeps: ScheduledTask | undefined;
  let stopRefreshing: (() => void) | undefined;
  const isCoordinationPoint = (tenant: string) => tenantsWith('coordination-point').includes(tenant);
  // A hosted organisation's EHR asks its own gateway; the gateway asks the coordination point with its own token.
  const askCoordinationPoint = config.coordinationPoint
    ? async (tenant: string, query: string, person?: Person) => {
        const reachable = coordinationPoint();
        if (!reachable) throw new OperationOutcomeError(notFound('The coordination point is not known (yet): neither configured nor found in the directory'));
        const call = { requester: tenant, remote: reachable.organization.id, purposeOfUse: CAPACITY_SUBSCRIBER, ...(person ? { person } : {}) };
        return options.client.remote(reachable.base, call).read(`MeasureReport/$match-capacity?${query}`);
      }
    : undefined;
  const routes = capacityRoutes({ provider, coordination, isCoordinationPoint, clock, askCoordinationPoint });

  return {
    name: 'capacity',
    provider,
    coordination,
    askCoordinationPoint,
    publisher,
    fhirRoutes: (version) => (version === 'r4' ? routes : []),
    // Everything another organisation reads at a coordination point passes the egress allowlist on the way out (its
    // published administration directory, `/mcsd/{id}`, has an allowlist of its own for update clients).
    servedProjection: {
      concerns: (principal) => principal.kind === 'organization' && principal.purposeOfUse !== DIRECTORY_READER && isCoordinationPoint(principal.tenant),
      project: (resource) => shownToOthers(resource, (report) => coordination.shownReport(report, new Date(clock()))),
    },
    outboxHandlers: publisher ? { [PUBLISH_KIND]: publisher.deliver } : {},
    async onTaskStatusChange(change, tx) {
      const careType = careTypeOfTask(change.task);
      const status = statusOf(change.task);
      if (change.side !== 'receiver' || !careType || !status || status === change.previousStatus || typeof change.task.id !== 'string') return;
      if (!config.organizations.some((organization) => organization.id === change.tenant)) return;
      await provider.recordTransfer(tx, change.tenant, { task: change.task.id, careType, status, at: new Date(clock()).toISOString() });
    },
    async start() {
      const coordinationPoints = tenantsWith('coordination-point');
      await coordination.rebuild(store, coordinationPoints, new Date(clock()));
      if (coordinationPoints.length > 0) {
        sweeps = cron.schedule(options.sweepSchedule ?? '* * * * *', () => coordination.sweep(store, new Date(clock())));
        // Reports stored by other instances on the database; a refresh that fails leaves the board as it was.
        stopRefreshing = await store.changes.subscribe(BOARD_CHANGED, (message) =>
          void coordination
            .refresh(store, coordinationPoints, message, new Date(clock()))
            .catch((error: unknown) => logger.warn({ err: error }, 'capacity board refresh failed')),
        );
      }
      publisher?.startSnapshots(config.organizations.map((organization) => organization.id));
    },
    async stop() {
      stopRefreshing?.();
      await sweeps?.destroy();
      await publisher?.stop();
    },
  };
}

export { StoredReportEgress } from './egress/stored-report.js';
