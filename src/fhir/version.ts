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
