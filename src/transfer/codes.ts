import { issue, type OperationOutcomeIssue } from '../fhir/outcome.js';
import type { Resource } from '../fhir/version.js';
import { EOVERDRACHT_REPLACED_CODES } from '../validation/legacy-codes.js';
import { SNOMED } from '../vocabulary/canonical.js';
import { codings, sameCoding } from '../vocabulary/json.js';

/** The eOverdracht 4.0 vocabulary (Nictiz nictiz.fhir.nl.stu3.eoverdracht 1.0.0-rc.23), DESIGN §3. */

export const PROFILES = {
  task: 'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-Task',
  advanceNotice: 'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-AdvanceNotice',
  nursingHandoffAdults: 'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-NursingHandoff-Adults',
  nursingHandoff: [
    'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-NursingHandoff-Adults',
    'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-NursingHandoff-Childcare-0-1yo',
    'http://nictiz.nl/fhir/StructureDefinition/eOverdracht-NursingHandoff-Childcare-1-18yo',
  ],
} as const;

/**
 * The Task routing extensions of the generic functions (TA Routering, `task-stu3-healthcareservice` and
 * `task-stu3-location`, as the amended eOverdracht-Task profile in fixtures/eoverdracht-stu3/profiles names them): the
 * HealthcareService and Location of the receiver the Task is meant for, in the receiver's own directory.
 */
export const ROUTING_EXTENSIONS = {
  healthcareService: 'http://nuts-foundation.github.io/nl-generic-functions-ig/StructureDefinition/task-stu3-healthcareservice',
  location: 'http://nuts-foundation.github.io/nl-generic-functions-ig/StructureDefinition/task-stu3-location',
} as const;

/** The Endpoint payloadType of a receiver's notification endpoint (generic functions, Twiin TA Notified Pull). */
export const NOTIFICATION_PAYLOAD_TYPE = 'Twiin-TA-notification';

export const TASK_CODE = { system: SNOMED, code: '308292007', display: 'overdracht van zorg' };

export type DocumentKind = 'advanceNotice' | 'nursingHandoff';

/** The current document codes: Composition.type and the Task input type that points at the Composition. */
export const DOCUMENT_CODES: Record<DocumentKind, { system: string; code: string; display: string }> = {
  advanceNotice: { system: SNOMED, code: '721915006', display: 'Admission request document' },
  nursingHandoff: { system: SNOMED, code: '11171000146100', display: 'Nursing handoff document' },
};

export type Coding = fhir3.Coding;

/** Which eOverdracht document a Composition is, by its current or pre-2022 type code. */
export function documentKind(composition: Resource): DocumentKind | undefined {
  const typeCodings = codings(composition.type);
  return (Object.keys(DOCUMENT_CODES) as DocumentKind[]).find((kind) => {
    const legacy = EOVERDRACHT_REPLACED_CODES.find((r) => r.current.code === DOCUMENT_CODES[kind].code)?.predecessor;
    return typeCodings.some((c) => sameCoding(c, DOCUMENT_CODES[kind]) || (legacy !== undefined && sameCoding(c, legacy)));
  });
}

/** True when a CodeableConcept carries a coding with this code (of whichever system). */
export function hasCode(concept: unknown, code: string): boolean {
  return codings(concept).some((c) => c.code === code);
}

/** True when a CodeableConcept carries the given coding. */
function hasCoding(concept: unknown, wanted: Coding): boolean {
  return codings(concept).some((c) => sameCoding(c, wanted));
}

/**
 * The gateway only emits current codes: a Composition typed with a pre-2022 code leaves with the current one.
 * Returns the Composition to emit and, when a code was replaced, a warning saying so.
 */
export function withCurrentDocumentCode(composition: Resource): { composition: Resource; warning?: OperationOutcomeIssue } {
  const kind = documentKind(composition);
  if (!kind || hasCoding(composition.type, DOCUMENT_CODES[kind])) return { composition };
  const current = DOCUMENT_CODES[kind];
  const replaced = codings(composition.type).find((c) => c.code !== current.code);
  const warning = issue(
    'warning',
    'code-invalid',
    `Composition/${composition.id}: the pre-2022 code ${replaced?.system}|${replaced?.code} was accepted and is sent on as ${current.system}|${current.code}`,
    'Composition.type',
  );
  return { composition: { ...composition, type: { coding: [current] } }, warning };
}
