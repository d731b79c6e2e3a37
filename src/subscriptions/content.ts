import { objects } from '../capacity/json.js';
import { buildAvailabilityPayload, type AvailabilitySource } from '../capacity/egress/payload.js';
import { releaseAvailability } from '../capacity/egress/release.js';
import { convertResource } from '../fhir/convert/index.js';
import type { Resource } from '../fhir/version.js';
import type { UnitOfWork } from '../store/repository.js';
import type { FocusRef } from './notifications.js';

/**
 * What a notification may carry of its focus. An availability MeasureReport leaves only as the egress allowlist
 * builds it (conformance/egress-policy.json); its id, the provider's `ura-<URA>` at the coordination point, is added as
 * the resource's identity. An eOverdracht Task (STU3) is converted to R4. Other resources never leave in a payload.
 * Versions never change, so what was built is kept for the next subscriber of the same event.
 */
const CACHE_LIMIT = 1000;

export class FocusContent {
  private readonly built = new Map<string, Promise<Resource | undefined>>();

  constructor(private readonly publicBaseUrl: string) {}

  /** Where the focus is read on this gateway (its current version). */
  url(focus: FocusRef): string {
    return `${this.publicBaseUrl}/fhir${focus.fhirVersion === 'stu3' ? '/stu3' : ''}/${focus.resourceType}/${focus.id}`;
  }

  resource(store: UnitOfWork, tenant: string, focus: FocusRef): Promise<Resource | undefined> {
    const key = `${tenant}|${focus.fhirVersion}|${focus.resourceType}/${focus.id}/${focus.versionId}`;
    let content = this.built.get(key);
    if (!content) {
      content = this.build(store, tenant, focus);
      if (this.built.size >= CACHE_LIMIT) this.built.clear();
      this.built.set(key, content);
      content.catch(() => this.built.delete(key));
    }
    return content;
  }

  private async build(store: UnitOfWork, tenant: string, focus: FocusRef): Promise<Resource | undefined> {
    const stored = await store.resources.vread({ tenant, version: focus.fhirVersion }, focus.resourceType, focus.id, focus.versionId);
    if (focus.resourceType === 'MeasureReport') {
      const { resourceType, ...payload } = buildAvailabilityPayload(availabilitySource(stored));
      return resourceType === 'OperationOutcome' ? undefined : { resourceType, id: focus.id, ...payload };
    }
    if (focus.resourceType === 'Task' && focus.fhirVersion === 'stu3') return convertResource(stored, { from: 'stu3', to: 'r4' });
    return undefined;
  }
}

/**
 * A published availability report read back as its parts: the egress builder puts the provider Organization first
 * in `contained`, then its Endpoints (the policy's `links`).
 */
export function availabilitySource(report: Resource): AvailabilitySource {
  const [organization, ...endpoints] = objects(report.contained);
  return { organization, endpoints, report };
}

/**
 * Records that an availability report leaves (egress policy: hash, destination, time, the payload itself), for the
 * focus version the notifications carry.
 */
export async function recordRelease(store: UnitOfWork, tenant: string, focus: FocusRef, destination: string, at: Date): Promise<void> {
  const scope = { tenant, version: focus.fhirVersion };
  const report = await store.resources.vread(scope, focus.resourceType, focus.id, focus.versionId);
  await releaseAvailability(store.audit, scope, { destination, source: availabilitySource(report), at });
}
