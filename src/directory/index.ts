import cron, { type ScheduledTask } from 'node-cron';
import { Gauge } from 'prom-client';
import { organizationDid } from '../auth/did.js';
import { issuerOf } from '../auth/oauth2/metadata.js';
import type { GatewayConfig } from '../config/config.js';
import { allOk, forbidden } from '../fhir/outcome.js';
import type { Logger } from '../logging/logger.js';
import type { Capability } from '../rest/capability-contract.js';
import { operationDefinition } from '../rest/operations/definitions.js';
import { readOperationInput, writeOperationOutput } from '../rest/operations/parameters.js';
import type { RouteDefinition } from '../rest/router.js';
import type { FhirHandler } from '../rest/types.js';
import type { Store } from '../store/repository.js';
import { directoryWrites, publishOwnEntries, type OwnEndpoints } from './administration.js';
import { DirectoryCounterparties } from './counterparties.js';
import { directoryEndpoint, DIRECTORY_MOUNT, queryDirectoryEndpoint } from './publication.js';
import { UpdateClient, type DirectoryStatus } from './update-client.js';

/**
 * The care-services directory (IHE mCSD, the generic functions' addressing) as a capability: each hosted
 * organisation's administration directory, published at `/mcsd/{id}`, with the gateway's own Endpoints filled in
 * once `directory` is configured;
 * and, with root directories configured, the update client that keeps the query directory in sync (on a schedule
 * and on demand, `$directory-update`), its status (`$directory-status`, `/metrics`), and the counterparties it feeds
 * to the trust registry.
 */
export interface DirectoryDependencies {
  config: GatewayConfig;
  store: Store;
  logger: Logger;
  /** Where the gateway serves the eOverdracht notification endpoint (transfer/ owns it). */
  notificationPath: string;
  fetch?: typeof fetch;
}

export interface Directory {
  capability: Capability;
  /** What the trust registry consults beyond `trusted[]`. */
  counterparties: DirectoryCounterparties;
}

const DIRECTORY_UPDATE = operationDefinition('directory-update');
const DIRECTORY_STATUS = operationDefinition('directory-status');
const DEFAULT_SCHEDULE = '* * * * *';

export function createDirectory(deps: DirectoryDependencies): Directory {
  const { config, store, logger } = deps;
  const settings = config.directory ?? {};
  const counterparties = new DirectoryCounterparties();
  const ownDirectories = config.organizations.map((organization) => `${config.publicBaseUrl}${DIRECTORY_MOUNT}/${encodeURIComponent(organization.id)}`);
  const client = new UpdateClient({
    roots: settings.roots ?? [],
    store,
    counterparties,
    fetch: deps.fetch,
    pageSize: settings.pageSize,
    exclude: [...(settings.exclude ?? []), ...ownDirectories],
    onWarning: (base, warning) => logger.warn({ directory: base, warning }, 'directory entry refused'),
  });
  let task: ScheduledTask | undefined;

  const sync = async (ignoreBackoff = false) => {
    const status = await client.sync({ ignoreBackoff });
    const failed = status.filter((directory) => directory.result === 'failed');
    if (failed.length > 0) logger.warn({ failed: failed.map((directory) => ({ base: directory.base, error: directory.error })) }, 'directory sync: some directories failed');
    return status;
  };
  const routes = directoryRoutes({ sync: () => sync(true), status: async () => client.status() });

  const capability: Capability = {
    name: 'care-services directory',
    fhirRoutes: (version) => (version === 'r4' ? routes : []),
    endpoints: [...config.organizations.map(directoryEndpoint), queryDirectoryEndpoint],
    writeInterceptors: { Endpoint: directoryWrites },
    metrics: directoryMetrics(client),
    async start() {
      if (!config.directory) return;
      for (const organization of config.organizations) {
        const endpoints = ownEndpointAddresses(config.publicBaseUrl, deps.notificationPath, organization.id);
        await publishOwnEntries(store, { tenant: organization.id, version: 'r4' }, organization, organizationDid(organization.id, config.publicBaseUrl), endpoints);
      }
      if ((settings.roots ?? []).length === 0) return;
      void sync(true).catch((error: unknown) => logger.error({ err: error }, 'directory sync failed'));
      task = cron.schedule(settings.schedule ?? DEFAULT_SCHEDULE, () => void sync(false).catch((error: unknown) => logger.error({ err: error }, 'directory sync failed')));
    },
    async stop() {
      await task?.stop();
    },
  };
  return { capability, counterparties };
}

/** `$directory-update` (a sync now) and `$directory-status`, for the hosted organisations' own EHRs. */
export function directoryRoutes(work: { sync(): Promise<DirectoryStatus[]>; status(): Promise<DirectoryStatus[]> }): RouteDefinition[] {
  const ehrOnly =
    (definition: typeof DIRECTORY_STATUS, run: () => Promise<DirectoryStatus[]>): FhirHandler =>
    async (request, context) => {
      if (context.principal.kind !== 'ehr') return [forbidden("Only a hosted organisation's own EHR may ask the directory's status or start a sync")];
      readOperationInput(definition, request);
      return [allOk, writeOperationOutput(definition, { directory: (await run()).map(statusParameters) })];
    };
  return [
    { method: 'POST', path: '$directory-update', access: 'operation', interactions: [], operation: DIRECTORY_UPDATE, handler: ehrOnly(DIRECTORY_UPDATE, () => work.sync()) },
    { method: 'GET', path: '$directory-status', access: 'operation', interactions: [], operation: DIRECTORY_STATUS, handler: ehrOnly(DIRECTORY_STATUS, () => work.status()) },
  ];
}

function ownEndpointAddresses(publicBaseUrl: string, notificationPath: string, organization: string): OwnEndpoints {
  return {
    notification: `${publicBaseUrl}${notificationPath}`,
    fhir: `${publicBaseUrl}/fhir/stu3`,
    authorizationServer: issuerOf(publicBaseUrl, organization),
    oauth: `${publicBaseUrl}/oauth2/token`,
    capacity: `${publicBaseUrl}/fhir`,
  };
}

const lagSeconds = (status: DirectoryStatus, now: number) => (status.since ? Math.max(0, (now - Date.parse(status.since)) / 1000) : undefined);

function statusParameters(status: DirectoryStatus): Record<string, unknown> {
  return {
    base: status.base,
    kind: status.kind,
    ura: status.uras,
    result: status.result,
    lastAttempt: status.lastAttempt,
    lastSuccess: status.lastSuccess,
    since: status.since,
    lagSeconds: lagSeconds(status, Date.now()),
    created: status.counts.created,
    updated: status.counts.updated,
    deleted: status.counts.deleted,
    warning: status.warnings,
    error: status.error,
    nextAttempt: status.nextAttempt,
  };
}

/** Per directory: when it last synced, how far behind it may be, whether its last round failed. */
function directoryMetrics(client: UpdateClient) {
  const labelNames = ['directory'] as const;
  const each = (gauge: Gauge<'directory'>, value: (status: DirectoryStatus) => number | undefined) => {
    gauge.reset();
    for (const status of client.status()) {
      const figure = value(status);
      if (figure !== undefined) gauge.set({ directory: status.base }, figure);
    }
  };
  return [
    new Gauge({
      name: 'directory_sync_last_success_timestamp_seconds',
      help: 'When the last sync round of a directory succeeded',
      labelNames,
      registers: [],
      collect() {
        each(this, (status) => (status.lastSuccess ? Date.parse(status.lastSuccess) / 1000 : undefined));
      },
    }),
    new Gauge({
      name: 'directory_sync_lag_seconds',
      help: 'How far behind the query directory may be: now minus the since of its next round',
      labelNames,
      registers: [],
      collect() {
        each(this, (status) => lagSeconds(status, Date.now()));
      },
    }),
    new Gauge({
      name: 'directory_sync_failed',
      help: 'Whether the last sync round of a directory failed (1) or not (0)',
      labelNames,
      registers: [],
      collect() {
        each(this, (status) => (status.result === 'failed' ? 1 : 0));
      },
    }),
  ];
}
