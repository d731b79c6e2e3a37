import { badRequest, unprocessable, type OperationOutcome } from '../../fhir/outcome.js';
import type { Resource } from '../../fhir/version.js';
import { AGB_SYSTEM, URA_SYSTEM, ZORGREGIO_EXTENSION } from '../canonical.js';
import { projectAs } from '../egress/payload.js';
import { egressPolicy, type EgressPolicy } from '../egress/policy.js';
import { readAvailabilityReport } from '../intake/measure-report.js';
import { isObject, objects, stringAt } from '../json.js';
import { parseMeasuredAt } from '../measured-at.js';
import { providerKey, type Availability } from '../model.js';

/** A provider as the coordination point lists it: only what the egress allowlist lets through. */
export interface ProviderListing {
  key: string;
  identifiers: { system: string; value: string }[];
  name: string;
  region?: string;
  postalCode?: string;
  /** Its eOverdracht Endpoints, as published (allowlisted). */
  endpoints: Resource[];
}

export interface Publication {
  provider: ProviderListing;
  availability: Availability;
  /** When the provider's gateway built the payload (Bundle.timestamp): orders publications of one provider. */
  publishedAt: string;
}

/**
 * Reads a provider gateway's availability payload at the coordination point. Each resource is built again from the
 * egress allowlist before it is read, so a non-conforming sender cannot place anything else on the board.
 */
export function readPublication(payload: unknown, now: Date, policy: EgressPolicy = egressPolicy()): Publication | OperationOutcome {
  if (!isObject(payload) || payload.resourceType !== 'Bundle' || payload.type !== 'collection') {
    return badRequest('Expected an availability Bundle of type collection');
  }
  const resources = objects(payload.entry).map((entry) => entry.resource).filter(isObject);
  const ofType = (type: string) => resources.filter((resource) => resource.resourceType === type);
  const [organizations, reports] = [ofType('Organization'), ofType('MeasureReport')];
  if (organizations.length !== 1 || reports.length !== 1) {
    return unprocessable('An availability Bundle holds exactly one Organization and one MeasureReport', 'Bundle.entry');
  }
  const published = parseMeasuredAt(payload.timestamp, now);
  if ('problem' in published) return unprocessable(`Bundle.timestamp: ${published.problem}`, 'Bundle.timestamp');
  const organization = projectAs(policy, 'Organization', organizations[0]);
  if (!organization) return unprocessable('The Organization needs a URA or AGB identifier and a name', 'Bundle.entry');
  const report = projectAs(policy, 'MeasureReport', reports[0]);
  if (!report) return unprocessable('The MeasureReport has nothing publishable', 'Bundle.entry');
  const availability = readAvailabilityReport(report, now);
  if ('resourceType' in availability) return availability;
  const provider = listing(organization, ofType('Endpoint').flatMap((endpoint) => projectAs(policy, 'Endpoint', endpoint) ?? []));
  const reporter = (report.reporter as { identifier: { system: string; value: string } }).identifier;
  if (!provider.identifiers.some((identifier) => providerKey(identifier) === providerKey(reporter))) {
    return unprocessable('MeasureReport.reporter does not identify the Organization in the Bundle', 'MeasureReport.reporter');
  }
  return { provider, availability, publishedAt: published.measuredAt };
}

function listing(organization: Resource, endpoints: Resource[]): ProviderListing {
  const identifiers = objects(organization.identifier).map((identifier) => ({
    system: String(identifier.system),
    value: String(identifier.value),
  }));
  const preferred = identifiers.find((identifier) => identifier.system === URA_SYSTEM) ?? identifiers.find((identifier) => identifier.system === AGB_SYSTEM)!;
  const region = stringAt(objects(organization.extension).find((extension) => extension.url === ZORGREGIO_EXTENSION), 'valueId');
  const postalCode = stringAt(objects(organization.address)[0], 'postalCode');
  return {
    key: providerKey(preferred),
    identifiers,
    name: String(organization.name),
    ...(region === undefined ? {} : { region }),
    ...(postalCode === undefined ? {} : { postalCode }),
    endpoints,
  };
}
