import { unprocessable, type OperationOutcome } from '../../fhir/outcome.js';
import type { Resource } from '../../fhir/version.js';
import { egressPolicy, type EgressPolicy } from './policy.js';
import { project } from './project.js';

/**
 * What a provider's gateway knows internally, in full, with whatever internal data came along. Of any shape: only
 * what the allowlist names is ever read.
 */
export interface AvailabilitySource {
  organization: unknown;
  endpoints: unknown[];
  report: unknown;
}

/** The id of the contained provider Organization, which `reporter` references. */
export const PROVIDER_ID = 'provider';

/**
 * Builds the outbound availability payload from the egress allowlist: the provider's availability MeasureReport
 * with its Organization and eOverdracht Endpoints contained, each resource built by the policy's rule for its role.
 * The builder itself writes only the links between them (contained ids and `#` references, see the policy's
 * `links`). Anything that leaves is recorded through `recordEgress` (release.ts): the provider's push by
 * `releaseAvailability`, a coordination point's notifications by `StoredReportEgress`.
 */
export function buildAvailabilityPayload(source: AvailabilitySource, policy: EgressPolicy = egressPolicy()): Resource | OperationOutcome {
  const organization = projectAs(policy, 'Organization', source.organization);
  if (!organization) {
    return unprocessable('The provider Organization has nothing publishable: it needs a URA or AGB identifier and a name', 'Organization');
  }
  const report = projectAs(policy, 'MeasureReport', source.report);
  if (!report) return unprocessable('The availability report has nothing publishable', 'MeasureReport');
  const endpoints = source.endpoints
    .flatMap((endpoint) => projectAs(policy, 'Endpoint', endpoint) ?? [])
    .map(({ resourceType, ...endpoint }, index) => ({ resourceType, id: `endpoint-${index + 1}`, ...endpoint }));
  const { resourceType, ...provider } = organization;
  const links = endpoints.length > 0 ? { endpoint: endpoints.map((endpoint) => ({ reference: `#${endpoint.id}` })) } : {};
  const { resourceType: reportType, meta, reporter, ...rest } = report;
  return {
    resourceType: reportType,
    meta,
    contained: [{ resourceType, id: PROVIDER_ID, ...provider, ...links }, ...endpoints],
    ...rest,
    reporter: { reference: `#${PROVIDER_ID}`, ...(reporter as object) },
  };
}

/** One resource built by the policy's rule for the given type (the role decides the rule, not the input's claim). */
export function projectAs(policy: EgressPolicy, resourceType: string, resource: unknown): Resource | undefined {
  const rule = policy.resources.get(resourceType);
  if (!rule) throw new Error(`the egress policy has no rule for ${resourceType}`);
  return project(resource, rule) as Resource | undefined;
}
