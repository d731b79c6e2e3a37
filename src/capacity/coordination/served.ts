import { DIRECTORY_TYPES } from '../../auth/purposes.js';
import { isBed } from '../../directory/publication.js';
import type { Resource } from '../../fhir/version.js';
import type { JsonObject } from '../../vocabulary/json.js';
import { projectAs } from '../egress/payload.js';
import { egressPolicy, type EgressPolicy } from '../egress/policy.js';

const DIRECTORY = new Set(DIRECTORY_TYPES);

/** An availability report as other organisations are shown it, or undefined (`CoordinationPoint.shownReport`). */
export type ShownReport = (report: Resource) => Resource | undefined;

/**
 * A resource as another organisation sees it at a coordination point, for the types the capacity purposes read:
 * built from the egress allowlist, whoever stored it (a provider's publication, or the point's own EHR with whatever
 * it carries, or its query directory). A MeasureReport is shown as `shownReport` says (the board's reports, rebuilt
 * from the allowlist), an Organization, Endpoint, HealthcareService or Location by the policy's rule for it; a bed, a
 * type the policy has no rule for, or a resource with nothing publishable left, is not shown at all. The store's `id`, `versionId` and
 * `lastUpdated` stay, so that reads, searches and paging work as before. Other types pass: what a caller may read of
 * them is authorization's decision.
 */
export function shownToOthers(resource: Resource, shownReport: ShownReport, policy: EgressPolicy = egressPolicy()): Resource | undefined {
  if (!DIRECTORY.has(resource.resourceType)) return resource;
  const shown = resource.resourceType === 'MeasureReport' ? shownReport(resource) : ruled(resource, policy);
  return shown && withStoreIdentity(shown, resource);
}

function ruled(resource: Resource, policy: EgressPolicy): Resource | undefined {
  if (isBed(resource as unknown as JsonObject)) return undefined;
  return policy.resources.has(resource.resourceType) ? projectAs(policy, resource.resourceType, resource) : undefined;
}

function withStoreIdentity({ resourceType, meta, ...shown }: Resource, stored: Resource): Resource {
  const { versionId, lastUpdated } = stored.meta ?? {};
  const storeMeta = { ...(versionId === undefined ? {} : { versionId }), ...(lastUpdated === undefined ? {} : { lastUpdated }) };
  return { resourceType, ...(stored.id === undefined ? {} : { id: stored.id }), meta: { ...storeMeta, ...meta }, ...shown };
}
