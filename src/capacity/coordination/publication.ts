import { badRequest, unprocessable, type OperationOutcome } from '../../fhir/outcome.js';
import type { Resource } from '../../fhir/version.js';
import { ZORGREGIO_EXTENSION } from '../canonical.js';
import { buildAvailabilityPayload } from '../egress/payload.js';
import { egressPolicy, type EgressPolicy } from '../egress/policy.js';
import { readAvailabilityReport } from '../intake/measure-report.js';
import { isObject, objects, stringAt, type JsonObject } from '../../vocabulary/json.js';
import { parseMeasuredAt } from '../measured-at.js';
import { providerKey, type Availability } from '../model.js';
import { AGB_SYSTEM, URA_SYSTEM } from '../../vocabulary/canonical.js';

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
  /** When the provider's gateway made the report (`MeasureReport.date`): orders the reports of one provider. */
  publishedAt: string;
  /** The report exactly as the allowlist lets it through: what the coordination point stores and serves. */
  report: Resource;
}

/**
 * Reads a provider gateway's availability report at the coordination point. The report is built again from the
 * egress allowlist before anything is read, so a sender that does not filter cannot put anything else on the board.
 */
export function readPublication(payload: unknown, now: Date, policy: EgressPolicy = egressPolicy()): Publication | OperationOutcome {
  if (!isObject(payload) || payload.resourceType !== 'MeasureReport') return badRequest('Expected an availability MeasureReport');
  const contained = objects(payload.contained);
  const organization = containedAt(contained, 'Organization', stringAt(payload.reporter, 'reference'));
  if (!organization) {
    return unprocessable('MeasureReport.reporter must reference the contained provider Organization', 'MeasureReport.reporter');
  }
  const endpoints = objects(organization.endpoint).flatMap((link) => containedAt(contained, 'Endpoint', stringAt(link, 'reference')) ?? []);
  const report = buildAvailabilityPayload({ organization, endpoints, report: payload }, policy);
  if (report.resourceType === 'OperationOutcome') return report as OperationOutcome;
  const published = parseMeasuredAt(report.date, now);
  if ('problem' in published) return unprocessable(published.problem, 'MeasureReport.date');
  const availability = readAvailabilityReport(report, now);
  if ('resourceType' in availability) return availability;
  const [provider, ...publishedEndpoints] = objects(report.contained);
  const listed = listing(provider, publishedEndpoints as Resource[]);
  const reporter = reporterIdentifier(report);
  if (!reporter || !listed.identifiers.some((identifier) => providerKey(identifier) === providerKey(reporter))) {
    return unprocessable('MeasureReport.reporter.identifier is not an identifier of the provider Organization', 'MeasureReport.reporter');
  }
  return { provider: listed, availability, publishedAt: published.measuredAt, report };
}

/** `MeasureReport.reporter.identifier` when it has a system and a value. */
function reporterIdentifier(report: Resource): { system: string; value: string } | undefined {
  const identifier = isObject(report.reporter) ? report.reporter.identifier : undefined;
  const system = stringAt(identifier, 'system');
  const value = stringAt(identifier, 'value');
  return system !== undefined && value !== undefined ? { system, value } : undefined;
}

function containedAt(contained: JsonObject[], type: string, reference: string | undefined): JsonObject | undefined {
  if (!reference?.startsWith('#')) return undefined;
  return contained.find((resource) => resource.resourceType === type && resource.id === reference.slice(1));
}

function listing(organization: JsonObject, endpoints: Resource[]): ProviderListing {
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
