import { unprocessable, type OperationOutcome } from '../../fhir/outcome.js';
import type { Resource } from '../../fhir/version.js';
import { egressPolicy, type EgressPolicy } from './policy.js';
import { project } from './project.js';

/** What a provider's gateway knows internally, in full (with whatever internal data came along). */
export interface AvailabilitySource {
  organization: Resource;
  endpoints: Resource[];
  report: Resource;
}

/**
 * Builds the outbound availability payload from the egress allowlist: a Bundle (collection) of the provider's
 * Organization, its eOverdracht Endpoints and its availability MeasureReport, each resource built by the policy's
 * rule for that role. Anything that leaves must go through `releaseAvailability`, which also records it.
 */
export function buildAvailabilityPayload(
  source: AvailabilitySource,
  at: Date,
  policy: EgressPolicy = egressPolicy(),
): Resource | OperationOutcome {
  const organization = projectAs(policy, 'Organization', source.organization);
  if (!organization) {
    return unprocessable('The provider Organization has nothing publishable: it needs a URA or AGB identifier and a name', 'Organization');
  }
  const report = projectAs(policy, 'MeasureReport', source.report);
  if (!report) return unprocessable('The availability report has nothing publishable', 'MeasureReport');
  const endpoints = source.endpoints.flatMap((endpoint) => projectAs(policy, 'Endpoint', endpoint) ?? []);
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: at.toISOString(),
    entry: [organization, ...endpoints, report].map((resource) => ({ resource })),
  };
}

/** One resource built by the policy's rule for the given type (the role decides the rule, not the input's claim). */
export function projectAs(policy: EgressPolicy, resourceType: string, resource: unknown): Resource | undefined {
  const rule = policy.resources.get(resourceType);
  if (!rule) throw new Error(`the egress policy has no rule for ${resourceType}`);
  return project(resource, rule) as Resource | undefined;
}
