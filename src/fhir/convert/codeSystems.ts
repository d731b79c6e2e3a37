/**
 * Code system URIs that changed between STU3 and R4: the HL7 v2 and v3 systems, and the FHIR-defined systems that
 * moved to terminology.hl7.org. Both maps are one-to-one, so a Coding's system converts back exactly.
 */
const TERMINOLOGY = 'http://terminology.hl7.org/CodeSystem/';
const STU3_FHIR = 'http://hl7.org/fhir/';
const STU3_V2 = 'http://hl7.org/fhir/v2/';
const STU3_V3 = 'http://hl7.org/fhir/v3/';

/**
 * Ids of the STU3 code systems `http://hl7.org/fhir/<id>` that R4 publishes as `http://terminology.hl7.org/CodeSystem/<id>`
 * (and no longer under the old URI). The test derives this list from the two releases' definitions.
 */
export const MOVED_CODE_SYSTEMS: ReadonlySet<string> = new Set([
  'FDI-surface', 'action-type', 'activity-definition-category', 'adjudication', 'adjudication-error',
  'adjudication-reason', 'admit-source', 'adverse-event-category', 'adverse-event-causality-assess',
  'adverse-event-causality-method', 'adverse-event-outcome', 'adverse-event-seriousness',
  'allerg-intol-substance-exp-risk', 'audit-entity-type', 'audit-event-type', 'basic-resource-type',
  'benefit-network', 'benefit-term', 'benefit-type', 'benefit-unit', 'chargeitem-billingcodes',
  'choice-list-orientation', 'chromosome-human', 'claim-exception', 'claimcareteamrole', 'claiminformationcategory',
  'common-tags', 'communication-category', 'communication-not-done-reason', 'composite-measure-scoring',
  'condition-category', 'condition-clinical', 'condition-state', 'condition-ver-status', 'conformance-expectation',
  'consentaction', 'consentcategorycodes', 'contactentity-type', 'contract-content-derivative',
  'contractsubtypecodes', 'contracttermsubtypecodes', 'contracttermtypecodes', 'copy-number-event',
  'coverage-selfpay', 'data-absent-reason', 'definition-status', 'definition-topic', 'diagnosis-role',
  'dicom-audit-lifecycle', 'diet', 'discharge-disposition', 'encounter-special-arrangements', 'encounter-type',
  'endpoint-connection-type', 'endpoint-payload-type', 'entformula-additive', 'episodeofcare-type',
  'evidence-quality', 'ex-USCLS', 'ex-claimsubtype', 'ex-diagnosisrelatedgroup', 'ex-diagnosistype',
  'ex-payee-resource-type', 'ex-paymenttype', 'ex-programcode', 'ex-providerqualification',
  'ex-relatedclaimrelationship', 'ex-revenue-center', 'ex-serviceplace', 'ex-tooth', 'ex-visionprescriptionproduct',
  'extra-security-role-type', 'flag-category', 'forms-codes', 'fundsreserve', 'goal-acceptance-status',
  'goal-category', 'goal-priority', 'goal-relationship-type', 'hl7-work-group', 'immunization-origin',
  'immunization-recommendation-status', 'iso-21089-lifecycle', 'library-type', 'list-empty-reason',
  'list-example-use-codes', 'list-order', 'location-physical-type', 'match-grade', 'measure-data-usage',
  'measure-population', 'measure-scoring', 'measure-type', 'medication-admin-category', 'medication-admin-status',
  'medication-statement-category', 'message-reasons-encounter', 'message-transport', 'missingtoothreason',
  'modifiers', 'name-assembly-order', 'object-role', 'observation-category', 'observation-statistics',
  'operation-outcome', 'organization-type', 'parameter-group', 'participant-type', 'payeetype',
  'payment-adjustment-reason', 'payment-type', 'paymentstatus', 'plan-definition-type', 'practitioner-role',
  'processpriority', 'question-max-occurs', 'questionnaire-usage-mode', 'reaction-event-certainty',
  'reason-medication-given', 'recommendation-strength', 'referencerange-meaning', 'resource-type-link',
  'restful-security-service', 'risk-probability', 'security-source-type', 'service-category',
  'service-provision-conditions', 'service-referral-method', 'service-type', 'special-values', 'subscription-tag',
  'substance-category', 'supply-item-type', 'supply-kind', 'supplyrequest-reason', 'testscript-operation-codes',
  'testscript-profile-destination-types', 'testscript-profile-origin-types', 'usage-context-type', 'variant-state',
]);

export function r4CodeSystem(system: string): string {
  if (system.startsWith(STU3_V2)) return `${TERMINOLOGY}v2-${system.slice(STU3_V2.length)}`;
  if (system.startsWith(STU3_V3)) return `${TERMINOLOGY}v3-${system.slice(STU3_V3.length)}`;
  const id = system.startsWith(STU3_FHIR) ? system.slice(STU3_FHIR.length) : '';
  return MOVED_CODE_SYSTEMS.has(id) ? `${TERMINOLOGY}${id}` : system;
}

export function stu3CodeSystem(system: string): string {
  const id = system.startsWith(TERMINOLOGY) ? system.slice(TERMINOLOGY.length) : '';
  if (id.startsWith('v2-')) return `${STU3_V2}${id.slice(3)}`;
  if (id.startsWith('v3-')) return `${STU3_V3}${id.slice(3)}`;
  return MOVED_CODE_SYSTEMS.has(id) ? `${STU3_FHIR}${id}` : system;
}
