import type { FhirVersion } from './version.js';

/**
 * The resource types served on both bases: eOverdracht and its nl-core/zib content, capacity and the directory,
 * subscriptions, audit, the types the nl-core R4 examples use, and the conformance resources. All exist in STU3 and R4.
 */
const WORKFLOW_TYPES = [
  'Task',
  'Bundle',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'Binary',
  'MeasureReport',
  'HealthcareService',
  'Location',
  'Endpoint',
  'Subscription',
  'Basic',
  'AuditEvent',
];

/** The patient data of the eOverdracht documents: the Compositions and the nl-core content their sections hold. */
export const HANDOFF_CONTENT_TYPES: readonly string[] = [
  'Composition',
  'Patient',
  'RelatedPerson',
  'Condition',
  'Flag',
  'AllergyIntolerance',
  'Observation',
  'Procedure',
  'Encounter',
  'Coverage',
  'DocumentReference',
];

/** nl-core / zib content beyond eOverdracht's own types (zib2020 examples, nursing handoff sections). */
export const CLINICAL_TYPES: readonly string[] = [
  'CarePlan',
  'CareTeam',
  'Consent',
  'DeviceUseStatement',
  'DiagnosticReport',
  'EpisodeOfCare',
  'Immunization',
  'NutritionOrder',
];

const CONFORMANCE_TYPES = [
  'CapabilityStatement',
  'StructureDefinition',
  'ValueSet',
  'CodeSystem',
  'OperationDefinition',
  'SearchParameter',
];

export const RESOURCE_TYPES: readonly string[] = [...WORKFLOW_TYPES, ...HANDOFF_CONTENT_TYPES, ...CLINICAL_TYPES, ...CONFORMANCE_TYPES].sort();

/**
 * Types the gateway writes itself and serves read-only: the audit trail (R4 AuditEvents, append-only; the store
 * refuses every write of one with 405, and keeps none on the STU3 base).
 */
export const READ_ONLY_TYPES: Readonly<Record<string, { interactions: readonly string[]; versions: readonly FhirVersion[] }>> = {
  AuditEvent: { interactions: ['read', 'vread', 'search-type'], versions: ['r4'] },
};

const supported = new Set(RESOURCE_TYPES);

export function isSupportedType(type: string): boolean {
  return supported.has(type);
}
