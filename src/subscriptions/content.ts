import type { Sent } from '../capacity/egress/release.js';
import { convertResource } from '../fhir/convert/index.js';
import type { Resource } from '../fhir/version.js';
import type { AuditTrail, UnitOfWork } from '../store/repository.js';
import type { FocusRef } from './notifications.js';

/**
 * Capacity's availability egress, as subscriptions use it: capacity implements it and `main.ts` wires it in, so
 * subscriptions carry availability without knowing the allowlist (conformance/egress-policy.json).
 */
export interface AvailabilityEgress {
  /** The report version as it may leave, built from the allowlist once whoever it goes to; undefined if nothing may. */
  payload(store: UnitOfWork, tenant: string, focus: FocusRef): Promise<Resource | undefined>;
  /** Records bytes that carry the payload (destination, time, their SHA-256; the payload once per version), right before they are sent. */
  record(trail: Pick<AuditTrail, 'append'>, tenant: string, focus: FocusRef, sent: Sent): Promise<void>;
}

/**
 * What a notification may carry of its focus. An availability MeasureReport leaves only through capacity's egress;
 * an eOverdracht Task (STU3) is converted to R4. Other resources never leave in a payload.
 */
export class FocusContent {
  constructor(
    private readonly publicBaseUrl: string,
    private readonly availability: AvailabilityEgress,
  ) {}

  /** Where the focus is read on this gateway (its current version). */
  url(focus: FocusRef): string {
    return `${this.publicBaseUrl}/fhir${focus.fhirVersion === 'stu3' ? '/stu3' : ''}/${focus.resourceType}/${focus.id}`;
  }

  async resource(store: UnitOfWork, tenant: string, focus: FocusRef): Promise<Resource | undefined> {
    if (focus.resourceType === 'MeasureReport') return this.availability.payload(store, tenant, focus);
    if (focus.resourceType !== 'Task' || focus.fhirVersion !== 'stu3') return undefined;
    const task = await store.resources.vread({ tenant, version: focus.fhirVersion }, focus.resourceType, focus.id, focus.versionId);
    return convertResource(task, { from: 'stu3', to: 'r4' });
  }

  /** Records that `sent.body` carries the focus's payload out, when that is availability. */
  async recordRelease(trail: Pick<AuditTrail, 'append'>, tenant: string, focus: FocusRef, sent: Sent): Promise<void> {
    if (focus.resourceType === 'MeasureReport') await this.availability.record(trail, tenant, focus, sent);
  }
}
