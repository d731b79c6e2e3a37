import type { FhirVersion } from '../fhir/version.js';

/**
 * The eOverdracht workflow's own profiles (Task, AdvanceNotice, NursingHandoff, ...; DESIGN §3). A resource that
 * declares one claims to be part of a transfer, and what the receiver does with it rests on that profile: when the
 * gateway does not know it (a newer release, a typo), it cannot tell the claim is true, so it refuses the resource
 * instead of noting it. Other unknown profiles (zib2017, nl-core: not installed) stay a warning, and so does an
 * eOverdracht profile declared on R4: eOverdracht 4.0 is STU3, and an R4 EHR's copy (converted, `convert/`) keeps the
 * claim of the STU3 original, which is checked when the resource is exchanged in STU3.
 */
const WORKFLOW_PROFILES = 'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-';

export const mustBeKnown = (profile: string, version: FhirVersion): boolean => version === 'stu3' && profile.startsWith(WORKFLOW_PROFILES);
