import type { HostedOrganization } from '../../config/config.js';
import { created, OperationOutcomeError } from '../../fhir/outcome.js';
import type { FhirResponse } from '../../rest/types.js';
import { parseSearchRequest } from '../../fhir/search/parse.js';
import type { Resource } from '../../fhir/version.js';
import type { Scope, UnitOfWork } from '../../store/repository.js';
import { NOTIFICATION_BASE } from '../../transfer/notification.js';
import { ENDPOINT_CONNECTION_TYPE_SYSTEM, ENDPOINT_ROLE_SYSTEM } from '../canonical.js';
import type { AvailabilitySource } from '../egress/payload.js';
import { countBedLocations } from '../intake/bed-locations.js';
import { readAvailabilityReport } from '../intake/measure-report.js';
import { codings, isObject, objects } from '../../vocabulary/json.js';
import type { Availability, ProviderIdentity } from '../model.js';
import { availabilityReport } from '../report.js';
import { applyTransferEvent, effectiveAvailability, settleLedger, type TransferEvent } from '../reservations.js';
import { changeState, loadState } from './state.js';
import { AGB_SYSTEM, CARE_TYPE_SYSTEM, URA_SYSTEM } from '../../vocabulary/canonical.js';

/** Called inside the transaction of every capacity change, to publish the tenant's new picture. */
export type PublicationTrigger = (store: UnitOfWork, tenant: string) => Promise<void>;

export interface ProviderCapacityOptions {
  organizations: HostedOrganization[];
  /** Where this gateway is reached: its notification endpoint, STU3 base and token endpoint are the default eOverdracht endpoints. */
  publicBaseUrl: string;
  publish: PublicationTrigger;
}

/**
 * The provider side: the EHR's census comes in (a MeasureReport as sent, or counted from bed Locations) and is
 * stored internally with whatever it carries; accepted transfers hold places; every change schedules a publication
 * of the tenant's picture, which `source` assembles for the egress policy at the moment it is sent.
 */
export class ProviderCapacity {
  constructor(private readonly options: ProviderCapacityOptions) {}

  /** POST MeasureReport by the tenant's EHR: stored as sent (internal), read as the new census. */
  async submitReport(store: UnitOfWork, scope: Scope, report: unknown, now: Date): Promise<FhirResponse> {
    const availability = readAvailabilityReport(report, now);
    if ('resourceType' in availability) return [availability];
    const stored = await this.replaceCensus(store, scope, availability, (tx) => tx.resources.create(scope, report as Resource));
    return [created, stored];
  }

  /** POST Location/$census by the tenant's EHR: the beds are stored (internal), counted into a new census report. */
  async submitCensus(store: UnitOfWork, scope: Scope, bundle: unknown, now: Date): Promise<FhirResponse> {
    const availability = countBedLocations(bundle, now);
    if ('resourceType' in availability) return [availability];
    const identity = this.identity(scope.tenant);
    const stored = await this.replaceCensus(store, scope, availability, async (tx) => {
      for (const location of objects(isObject(bundle) ? bundle.entry : undefined).map((entry) => entry.resource as Resource)) {
        await (typeof location.id === 'string' ? tx.resources.update(scope, location) : tx.resources.create(scope, location));
      }
      return tx.resources.create(scope, availabilityReport(identity, availability, now.toISOString()));
    });
    return [created, stored];
  }

  /** A transfer changed status at this provider: hold, release or occupy a place, and publish when that changed. */
  async recordTransfer(store: UnitOfWork, tenant: string, event: TransferEvent): Promise<void> {
    const scope: Scope = { tenant, version: 'r4' };
    await changeState(store, scope, async (state, tx) => {
      const ledger = applyTransferEvent(state.ledger, event);
      if (JSON.stringify(ledger) !== JSON.stringify(state.ledger)) await this.options.publish(tx, tenant);
      return { state: { ...state, ledger }, result: undefined };
    });
  }

  /** The tenant's internal data for a publication now, or undefined while it has no census. */
  async source(store: UnitOfWork, tenant: string, now: Date): Promise<AvailabilitySource | undefined> {
    const scope: Scope = { tenant, version: 'r4' };
    const state = await loadState(store, scope);
    if (state.census === undefined) return undefined;
    const census = readAvailabilityReport(await store.resources.read(scope, 'MeasureReport', state.census), now);
    if ('resourceType' in census) throw new OperationOutcomeError(census);
    const report = availabilityReport(this.identity(tenant), effectiveAvailability(census, state.ledger), now.toISOString());
    return { organization: await this.organization(store, scope), endpoints: await this.endpoints(store, scope), report };
  }

  identity(tenant: string): ProviderIdentity {
    const organization = this.hosted(tenant);
    const identifier = organization.ura ? { system: URA_SYSTEM, value: organization.ura } : { system: AGB_SYSTEM, value: organization.agb ?? '' };
    return { identifier, name: organization.name };
  }

  private hosted(tenant: string): HostedOrganization {
    const organization = this.options.organizations.find((candidate) => candidate.id === tenant);
    if (!organization) throw new Error(`'${tenant}' is not hosted here`);
    return organization;
  }

  private async replaceCensus(
    store: UnitOfWork,
    scope: Scope,
    availability: Availability,
    write: (tx: UnitOfWork) => Promise<Resource>,
  ): Promise<Resource> {
    return changeState(store, scope, async (state, tx) => {
      const report = await write(tx);
      await this.options.publish(tx, scope.tenant);
      return { state: { census: report.id, ledger: settleLedger(state.ledger, availability.measuredAt) }, result: report };
    });
  }

  /** The tenant's own Organization resource (its directory entry: region, site), else its identity from configuration. */
  private async organization(store: UnitOfWork, scope: Scope): Promise<Resource> {
    const { identifier, name } = this.identity(scope.tenant);
    const found = await store.resources.search(
      scope,
      parseSearchRequest('r4', 'Organization', { identifier: `${identifier.system}|${identifier.value}`, _count: '1' }),
    );
    return found.resources[0] ?? { resourceType: 'Organization', identifier: [identifier], name };
  }

  /** The tenant's own eOverdracht Endpoint resources, else this gateway's: notification, STU3 FHIR base, token. */
  private async endpoints(store: UnitOfWork, scope: Scope): Promise<Resource[]> {
    const found = await store.resources.search(
      scope,
      parseSearchRequest('r4', 'Endpoint', { status: 'active', 'payload-type': `${ENDPOINT_ROLE_SYSTEM}|`, _count: '10' }),
    );
    if (found.resources.length > 0) return found.resources;
    const base = this.options.publicBaseUrl.replace(/\/$/, '');
    return [
      endpoint('notification', `${base}${NOTIFICATION_BASE}/Task`),
      endpoint('fhir', `${base}/fhir/stu3`),
      endpoint('oauth', `${base}/oauth2/token`),
    ];
  }
}

function endpoint(role: string, address: string): Resource {
  return {
    resourceType: 'Endpoint',
    status: 'active',
    connectionType: { system: ENDPOINT_CONNECTION_TYPE_SYSTEM, code: 'hl7-fhir-rest' },
    payloadType: [{ coding: [{ system: ENDPOINT_ROLE_SYSTEM, code: role }] }],
    address,
  } satisfies fhir4.Endpoint;
}

/** The care type a transfer asks for: a care-type coding in `Task.performerType` (set by the sender). */
export function careTypeOfTask(task: Resource): string | undefined {
  return objects(task.performerType)
    .flatMap((concept) => codings(concept))
    .find((coding) => coding.system === CARE_TYPE_SYSTEM)?.code;
}

