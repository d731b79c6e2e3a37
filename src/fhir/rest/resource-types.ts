/**
 * The resource types served on both bases: eOverdracht and its nl-core/zib content, capacity and the directory,
 * subscriptions, audit, the types the nl-core R4 examples use, and the conformance resources. All exist in STU3 and R4.
 */
const WORKFLOW_TYPES = [
  'Task',
  'Composition',
  'Bundle',
  'Patient',
  'Practitioner',
  'PractitionerRole',
  'Organization',
  'RelatedPerson',
  'Condition',
  'Flag',
  'AllergyIntolerance',
  'Observation',
  'Procedure',
  'Encounter',
  'Coverage',
  'DocumentReference',
  'Binary',
  'MeasureReport',
  'HealthcareService',
  'Location',
  'Endpoint',
  'Subscription',
  'Basic',
  'AuditEvent',
];

/** nl-core / zib content beyond eOverdracht's own types (zib2020 examples, nursing handoff sections). */
const CLINICAL_TYPES = [
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

export const RESOURCE_TYPES: readonly string[] = [...WORKFLOW_TYPES, ...CLINICAL_TYPES, ...CONFORMANCE_TYPES].sort();

const supported = new Set(RESOURCE_TYPES);

export function isSupportedType(type: string): boolean {
  return supported.has(type);
}
