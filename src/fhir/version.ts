import { isObject } from '../vocabulary/json.js';

/** The two FHIR releases the gateway speaks: R4 for its own API and capacity, STU3 for eOverdracht. */
export type FhirVersion = 'r4' | 'stu3';

export const FHIR_VERSIONS: readonly FhirVersion[] = ['r4', 'stu3'];

/** The `fhirVersion` a CapabilityStatement declares for each release. */
export const FHIR_RELEASE: Record<FhirVersion, string> = { r4: '4.0.1', stu3: '3.0.2' };

/** Any FHIR resource as JSON, in either release. Domain code narrows it with @types/fhir where it helps. */
export interface Resource {
  resourceType: string;
  id?: string;
  meta?: { versionId?: string; lastUpdated?: string; profile?: string[]; [key: string]: unknown };
  [key: string]: unknown;
}

/** A JSON value that is a resource at least in shape: an object naming its resourceType. */
export function isResource(value: unknown): value is Resource {
  return isObject(value) && typeof value.resourceType === 'string';
}

/** A Reference element in JSON not yet validated: an object, whose elements are checked where they are read. */
export function isReference(value: unknown): value is fhir4.Reference | fhir3.Reference {
  return isObject(value);
}
