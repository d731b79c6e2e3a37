/**
 * The eOverdracht workflow's own profiles (Task, AdvanceNotice, NursingHandoff, ...; DESIGN §3). A resource that
 * declares one claims to be part of a transfer, and what the receiver does with it rests on that profile: when the
 * gateway does not know it (a newer release, a typo), it cannot tell the claim is true, so it refuses the resource
 * instead of noting it. Other unknown profiles (zib2017, nl-core: not installed) stay a warning.
 */
const WORKFLOW_PROFILES = 'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-';

export const mustBeKnown = (profile: string): boolean => profile.startsWith(WORKFLOW_PROFILES);
