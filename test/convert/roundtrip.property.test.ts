import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { convertResource } from '../../src/fhir/convert/index.js';
import type { Resource } from '../../src/fhir/version.js';

/**
 * Round trips over generated resources that exercise every rule in both directions: whatever combination of
 * values a side holds, converting there and back gives it back unchanged.
 */
const toR4 = (resource: Resource) => convertResource(resource, { from: 'stu3', to: 'r4' });
const toStu3 = (resource: Resource) => convertResource(resource, { from: 'r4', to: 'stu3' });

const text = fc.string({ minLength: 1, maxLength: 8 });
/** A reference to one of the resource types the element allows in the release generated for (or a contained one). */
const ref = (...types: string[]) =>
  fc.record({ reference: fc.constantFrom(...types.map((type) => `${type}/1`), '#c1'), display: text }, { requiredKeys: ['reference'] });
const concept = fc.record({ coding: fc.array(fc.record({ system: fc.constantFrom('http://snomed.info/sct', 'http://hl7.org/fhir/v3/ActCode', 'http://hl7.org/fhir/observation-category'), code: text }), { minLength: 1, maxLength: 2 }), text }, { requiredKeys: [] });
const codeSpecification = fc.record({
  url: fc.constant('http://nictiz.nl/fhir/StructureDefinition/code-specification'),
  valueCodeableConcept: concept,
});
const primitiveExtensions = fc.record({ extension: fc.array(codeSpecification, { minLength: 1, maxLength: 2 }) });
const optional = <T>(arbitrary: fc.Arbitrary<T>) => fc.option(arbitrary, { nil: undefined });

// FHIR has no empty arrays, so every generated list has at least one item.

/** A JSON object without its undefined members, as a parsed resource would be. */
function resource(value: Record<string, unknown>): Resource {
  return JSON.parse(JSON.stringify(value)) as Resource;
}

const stu3Resources: fc.Arbitrary<Resource> = fc.oneof(
  fc.record({
    clinicalStatus: optional(fc.constantFrom('active', 'recurrence', 'inactive', 'remission', 'resolved')),
    _clinicalStatus: optional(primitiveExtensions),
    verificationStatus: optional(fc.constantFrom('provisional', 'differential', 'confirmed', 'refuted', 'entered-in-error', 'unknown')),
    context: optional(ref('Encounter', 'EpisodeOfCare')),
    abatementBoolean: optional(fc.boolean()),
    assertedDate: optional(fc.constant('2024-01-01')),
    stage: optional(fc.record({ summary: concept })),
  }).map((c) => resource({ resourceType: 'Condition', subject: { reference: 'Patient/p' }, ...c })),
  fc.record({
    status: fc.constantFrom('preparation', 'in-progress', 'suspended', 'aborted', 'completed', 'entered-in-error', 'unknown'),
    notDone: optional(fc.boolean()),
    notDoneReason: optional(concept),
    performer: optional(fc.array(fc.record({ role: concept, actor: ref('Practitioner', 'Organization', 'Patient', 'RelatedPerson', 'Device') }, { requiredKeys: ['actor'] }), { minLength: 1, maxLength: 2 })),
  }).map((p) => resource({ resourceType: 'Procedure', subject: { reference: 'Patient/p' }, ...p })),
  fc.record({
    comment: optional(text),
    related: optional(fc.array(fc.record({ type: fc.constantFrom('has-member', 'derived-from', 'replaces', 'qualified-by'), target: ref('Observation', 'QuestionnaireResponse', 'Sequence') }), { minLength: 1, maxLength: 3 })),
    interpretation: optional(concept),
    context: optional(ref('Encounter', 'EpisodeOfCare')),
  }).map((o) => resource({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, ...o })),
  fc.record({
    requester: optional(fc.record({ agent: ref('Device', 'Organization', 'Patient', 'Practitioner', 'RelatedPerson'), onBehalfOf: ref('Organization') }, { requiredKeys: ['agent'] })),
    context: optional(ref('Encounter', 'EpisodeOfCare')),
    reason: optional(concept),
    definitionUri: optional(fc.constant('http://example.org/d')),
    definitionReference: optional(ref('ActivityDefinition')),
  }).map((t) => resource({ resourceType: 'Task', status: 'requested', intent: 'order', ...t })),
  fc.record({
    grouping: optional(fc.record({ group: text, groupDisplay: text, plan: text, subClass: text, subClassDisplay: text }, { requiredKeys: [] })),
    status: optional(fc.constantFrom('active', 'cancelled')),
    sequence: optional(text),
  }).map((c) => resource({ resourceType: 'Coverage', ...c })),
  fc.record({
    class: optional(concept),
    attester: optional(fc.array(fc.record({ mode: fc.array(fc.constantFrom('personal', 'professional', 'legal', 'official'), { minLength: 1, maxLength: 3 }) }), { minLength: 1, maxLength: 2 })),
  }).map((c) => resource({ resourceType: 'Composition', status: 'final', type: { text: 't' }, subject: { reference: 'Patient/p' }, date: '2024-01-01', author: [{ display: 'a' }], title: 't', ...c })),
);

const r4Status = (system: string, codes: string[]) =>
  fc.record({ coding: fc.array(fc.oneof(fc.record({ system: fc.constant(system), code: fc.constantFrom(...codes) }), fc.record({ system: fc.constant('http://snomed.info/sct'), code: text })), { minLength: 1, maxLength: 2 }), text }, { requiredKeys: ['coding'] });

const r4Resources: fc.Arbitrary<Resource> = fc.oneof(
  fc.record({
    clinicalStatus: optional(r4Status('http://terminology.hl7.org/CodeSystem/condition-clinical', ['active', 'recurrence', 'relapse', 'inactive', 'remission', 'resolved'])),
    verificationStatus: optional(r4Status('http://terminology.hl7.org/CodeSystem/condition-ver-status', ['unconfirmed', 'provisional', 'confirmed', 'refuted'])),
    encounter: optional(ref('Encounter')),
    recorder: optional(ref('Practitioner', 'PractitionerRole', 'Patient', 'RelatedPerson')),
    stage: optional(fc.array(fc.record({ summary: concept, type: concept }, { requiredKeys: [] }), { minLength: 1, maxLength: 2 })),
  }).map((c) => resource({ resourceType: 'Condition', subject: { reference: 'Patient/p' }, ...c })),
  fc.record({
    status: fc.constantFrom('preparation', 'in-progress', 'not-done', 'on-hold', 'stopped', 'completed', 'unknown'),
    statusReason: optional(concept),
    performer: optional(fc.array(fc.record({ function: concept, actor: ref('Practitioner', 'PractitionerRole', 'Organization', 'Patient', 'RelatedPerson', 'Device') }, { requiredKeys: ['actor'] }), { minLength: 1, maxLength: 2 })),
  }).map((p) => resource({ resourceType: 'Procedure', subject: { reference: 'Patient/p' }, ...p })),
  fc.record({
    note: optional(fc.array(fc.record({ text, authorString: text }, { requiredKeys: ['text'] }), { minLength: 1, maxLength: 2 })),
    hasMember: optional(fc.array(ref('Observation', 'QuestionnaireResponse', 'MolecularSequence'), { minLength: 1, maxLength: 2 })),
    derivedFrom: optional(fc.array(ref('DocumentReference', 'Media', 'Observation', 'MolecularSequence'), { minLength: 1, maxLength: 2 })),
    interpretation: optional(fc.array(concept, { minLength: 1, maxLength: 2 })),
    valueInteger: optional(fc.integer()),
  }).map((o) => resource({ resourceType: 'Observation', status: 'final', code: { text: 'x' }, ...o })),
  fc.record({
    requester: optional(ref('Device', 'Organization', 'Patient', 'Practitioner', 'PractitionerRole', 'RelatedPerson')),
    encounter: optional(ref('Encounter')),
    reasonCode: optional(concept),
    location: optional(ref('Location')),
    insurance: optional(fc.array(ref('Coverage', 'ClaimResponse'), { minLength: 1, maxLength: 2 })),
  }).map((t) => resource({ resourceType: 'Task', status: 'requested', intent: 'order', ...t })),
  fc.record({
    class: optional(fc.array(fc.record({ type: fc.record({ coding: fc.tuple(fc.record({ system: fc.constant('http://terminology.hl7.org/CodeSystem/coverage-class'), code: fc.constantFrom('group', 'plan', 'rxbin') })) }), value: text, name: text }, { requiredKeys: ['type', 'value'] }), { minLength: 1, maxLength: 3 })),
  }).map((c) => resource({ resourceType: 'Coverage', status: 'active', beneficiary: { reference: 'Patient/p' }, payor: [{ reference: 'Organization/o' }], ...c })),
);

describe('generated resources', () => {
  it('STU3 → R4 → STU3 is the identity', () => {
    fc.assert(fc.property(stu3Resources, (stu3) => expect(toStu3(toR4(stu3))).toEqual(stu3)), { numRuns: 300 });
  });

  it('R4 → STU3 → R4 is the identity', () => {
    fc.assert(fc.property(r4Resources, (r4) => expect(toR4(toStu3(r4))).toEqual(r4)), { numRuns: 300 });
  });
});
