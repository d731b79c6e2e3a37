import { codingSystem, money, uriStandIn } from './datatypes.js';
import {
  ALLERGY_CLINICAL,
  ALLERGY_VERIFICATION,
  CONDITION_CLINICAL,
  CONDITION_VERIFICATION,
  coverageGrouping,
  deviceVersion,
  observationComment,
  observationRelated,
  procedureStatus,
} from './resources.js';
import { codeToConcept, flattenBackbone, recode, rename, textToConcept, type Rule } from './rules.js';

/**
 * The STU3 ↔ R4 differences, by the path of the type or backbone element they apply to (the same path in both
 * releases). Everything not listed converts under the same name; see engine.ts for what happens to elements that
 * exist in one release only. After the HL7 R3↔R4 conversion maps, limited to the eOverdracht resource types.
 */
const RULES: Record<string, readonly Rule[]> = {
  Coding: [codingSystem],
  Money: [money],
  Signature: [
    rename('whoReference', 'who'),
    rename('onBehalfOfReference', 'onBehalfOf'),
    rename('contentType', 'sigFormat'),
    rename('blob', 'data'),
  ],
  Extension: [uriStandIn('valueCanonical'), uriStandIn('valueUrl'), uriStandIn('valueUuid')],

  Task: [
    flattenBackbone('Task.requester', 'agent'),
    rename('context', 'encounter'),
    rename('reason', 'reasonCode'),
    rename('definitionUri', 'instantiatesUri'),
  ],
  Composition: [rename('class', 'category')],
  Condition: [
    codeToConcept('clinicalStatus', CONDITION_CLINICAL),
    codeToConcept('verificationStatus', CONDITION_VERIFICATION),
    rename('context', 'encounter'),
    rename('assertedDate', 'recordedDate'),
  ],
  AllergyIntolerance: [
    codeToConcept('clinicalStatus', ALLERGY_CLINICAL),
    codeToConcept('verificationStatus', ALLERGY_VERIFICATION),
    rename('assertedDate', 'recordedDate'),
  ],
  Observation: [rename('context', 'encounter'), observationComment, observationRelated],
  Procedure: [procedureStatus, rename('context', 'encounter')],
  'Procedure.performer': [rename('role', 'function')],
  Encounter: [rename('reason', 'reasonCode')],
  'Encounter.diagnosis': [rename('role', 'use')],
  Coverage: [coverageGrouping],
  DiagnosticReport: [
    flattenBackbone('DiagnosticReport.performer', 'actor'),
    rename('context', 'encounter'),
    rename('image', 'media'),
    rename('codedDiagnosis', 'conclusionCode'),
  ],
  DeviceUseStatement: [rename('indication', 'reasonCode')],
  NutritionOrder: [recode('status', { proposed: 'draft', planned: 'draft', requested: 'active', cancelled: 'revoked' }, { revoked: 'cancelled' })],
  CarePlan: [recode('status', { suspended: 'on-hold', cancelled: 'revoked' }, { 'on-hold': 'suspended', revoked: 'cancelled' }), rename('context', 'encounter')],
  'CarePlan.activity.detail': [rename('prohibited', 'doNotPerform'), textToConcept('statusReason')],
  Device: [rename('udi', 'udiCarrier'), rename('model', 'modelNumber'), deviceVersion],
};

/**
 * The resource types the gateway converts: those of the eOverdracht exchange (the AdvanceNotice and NursingHandoff
 * and what they reference: zib-MedicalDevice's DeviceUseStatement and Device, zib-NutritionAdvice's NutritionOrder,
 * zib-HelpFromOthers' CarePlan), Location and EpisodeOfCare, and the envelopes around them.
 */
export const CONVERTIBLE_TYPES: readonly string[] = [
  'Task',
  'Composition',
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
  'DiagnosticReport',
  'DeviceUseStatement',
  'Device',
  'NutritionOrder',
  'CarePlan',
  'Location',
  'EpisodeOfCare',
  'Bundle',
  'OperationOutcome',
];

const convertible = new Set(CONVERTIBLE_TYPES);

export function isConvertible(resourceType: string): boolean {
  return convertible.has(resourceType);
}

export function rulesAt(path: string): readonly Rule[] {
  return RULES[path] ?? [];
}
