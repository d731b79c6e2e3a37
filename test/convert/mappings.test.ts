import { describe, expect, it } from '@jest/globals';
import { convertResource } from '../../src/fhir/convert/index.js';
import type { Resource } from '../../src/fhir/version.js';
import { baseR4Errors } from './support.js';

/** The differences between the releases, one by one, on small hand-made resources. */
const toR4 = (resource: Resource) => convertResource(resource, { from: 'stu3', to: 'r4' });
const toStu3 = (resource: Resource) => convertResource(resource, { from: 'r4', to: 'stu3' });
const R3 = 'http://hl7.org/fhir/3.0/StructureDefinition/extension-';
const R4 = 'http://hl7.org/fhir/4.0/StructureDefinition/extension-';
const DATA_ABSENT = { extension: [{ url: 'http://hl7.org/fhir/StructureDefinition/data-absent-reason', valueCode: 'unknown' }] };
const patient = { reference: 'Patient/p1' };

describe('Task', () => {
  const task: Resource = {
    resourceType: 'Task',
    status: 'requested',
    intent: 'order',
    for: patient,
    context: { reference: 'Encounter/e1' },
    reason: { text: 'overplaatsing' },
    definitionUri: 'http://example.org/transfer',
    requester: { agent: { reference: 'Practitioner/pr1' }, onBehalfOf: { reference: 'Organization/o1' } },
  };

  it('requester.agent becomes requester, onBehalfOf a cross-version extension on it', () => {
    const r4 = toR4(task);
    expect(r4.requester).toEqual({
      extension: [{ url: `${R3}Task.requester.onBehalfOf`, valueReference: { reference: 'Organization/o1' } }],
      reference: 'Practitioner/pr1',
    });
    expect(r4).toMatchObject({ encounter: { reference: 'Encounter/e1' }, reasonCode: { text: 'overplaatsing' }, instantiatesUri: 'http://example.org/transfer' });
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual(task);
  });

  it('an R4 requester that is a PractitionerRole becomes an agent with the Nictiz practitionerrole-reference', () => {
    const r4: Resource = { resourceType: 'Task', status: 'requested', intent: 'order', requester: { reference: 'PractitionerRole/r1' } };
    const stu3 = toStu3(r4);
    expect(stu3.requester).toEqual({
      agent: { extension: [{ url: 'http://nictiz.nl/fhir/StructureDefinition/practitionerrole-reference', valueReference: { reference: 'PractitionerRole/r1' } }] },
    });
    expect(toR4(stu3)).toEqual(r4);
  });

  it('a context that is no Encounter stays out of R4 encounter', () => {
    const stu3 = { ...task, context: { reference: 'EpisodeOfCare/eoc1' } };
    const r4 = toR4(stu3);
    expect(r4.encounter).toBeUndefined();
    expect(r4.extension).toEqual([{ url: `${R3}Task.context`, valueReference: { reference: 'EpisodeOfCare/eoc1' } }]);
    expect(toStu3(r4)).toEqual(stu3);
  });

  it('R4-only elements travel to STU3 as cross-version extensions and come back', () => {
    const r4: Resource = {
      resourceType: 'Task',
      status: 'accepted',
      intent: 'order',
      location: { reference: 'Location/l1' },
      insurance: [{ reference: 'Coverage/c1' }, { reference: 'Coverage/c2' }],
      input: [{ type: { text: 'x' }, valueCanonical: 'http://example.org/Questionnaire/q' }],
    };
    const stu3 = toStu3(r4);
    expect(stu3.extension).toEqual([
      { url: `${R4}Task.location`, valueReference: { reference: 'Location/l1' } },
      { url: `${R4}Task.insurance`, valueReference: { reference: 'Coverage/c1' } },
      { url: `${R4}Task.insurance`, valueReference: { reference: 'Coverage/c2' } },
    ]);
    expect((stu3.input as unknown[])[0]).toEqual({
      extension: [{ url: `${R4}Task.input.valueCanonical`, valueUri: 'http://example.org/Questionnaire/q' }],
      type: { text: 'x' },
    });
    expect(toR4(stu3)).toEqual(r4);
  });
});

describe('Condition and AllergyIntolerance status codes', () => {
  it('become CodeableConcepts with the terminology.hl7.org systems; a Nictiz code-specification becomes a second coding', () => {
    const stu3: Resource = {
      resourceType: 'Condition',
      clinicalStatus: 'active',
      _clinicalStatus: {
        extension: [
          {
            url: 'http://nictiz.nl/fhir/StructureDefinition/code-specification',
            valueCodeableConcept: { coding: [{ system: 'http://snomed.info/sct', code: '55561003', display: 'Actueel' }] },
          },
        ],
      },
      verificationStatus: 'unknown',
      subject: patient,
      assertedDate: '2024-01-02',
    };
    const r4 = toR4(stu3);
    expect(r4.clinicalStatus).toEqual({
      coding: [
        { system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active', display: 'Active' },
        { system: 'http://snomed.info/sct', code: '55561003', display: 'Actueel' },
      ],
    });
    expect(r4.verificationStatus).toEqual({
      coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-ver-status', code: 'unconfirmed', display: 'Unconfirmed' }],
    });
    expect(r4.recordedDate).toBe('2024-01-02');
    expect(toStu3(r4)).toEqual(stu3);
  });

  it('an R4 code STU3 lacks is written as the nearest STU3 code and the R4 original is kept', () => {
    const r4: Resource = {
      resourceType: 'Condition',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'relapse' }], text: 'terug' },
      subject: patient,
    };
    const stu3 = toStu3(r4);
    expect(stu3.clinicalStatus).toBe('recurrence');
    // the kept value is written in STU3 datatypes, so its coding has the STU3 URI of the code system
    expect(stu3.extension).toEqual([
      { url: `${R4}Condition.clinicalStatus`, valueCodeableConcept: { coding: [{ system: 'http://hl7.org/fhir/condition-clinical', code: 'relapse' }], text: 'terug' } },
    ]);
    expect(toR4(stu3)).toEqual(r4);
  });

  it('the kept R4 original is dropped once the STU3 side changed the value', () => {
    const r4: Resource = {
      resourceType: 'Condition',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'relapse' }] },
      subject: patient,
    };
    const edited = { ...toStu3(r4), clinicalStatus: 'resolved' };
    expect(toR4(edited)).toEqual({
      resourceType: 'Condition',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'resolved', display: 'Resolved' }] },
      subject: patient,
    });
  });

  it('an AllergyIntolerance without the verificationStatus STU3 requires gets a data-absent-reason there, and loses it again', () => {
    const r4: Resource = {
      resourceType: 'AllergyIntolerance',
      clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active', display: 'Active' }] },
      patient,
      recordedDate: '2024-02-03',
    };
    const stu3 = toStu3(r4);
    expect(stu3).toEqual({ resourceType: 'AllergyIntolerance', clinicalStatus: 'active', _verificationStatus: DATA_ABSENT, patient, assertedDate: '2024-02-03' });
    expect(toR4(stu3)).toEqual(r4);
  });
});

describe('Procedure', () => {
  it('notDone becomes status not-done with notDoneReason as statusReason; performer.role is performer.function', () => {
    const stu3: Resource = {
      resourceType: 'Procedure',
      status: 'unknown',
      notDone: true,
      notDoneReason: { text: 'patiënt weigerde' },
      subject: patient,
      performer: [{ role: { text: 'verpleegkundige' }, actor: { reference: 'Practitioner/pr1' } }],
    };
    const r4 = toR4(stu3);
    expect(r4).toMatchObject({ status: 'not-done', statusReason: { text: 'patiënt weigerde' } });
    expect(r4.performer).toEqual([{ function: { text: 'verpleegkundige' }, actor: { reference: 'Practitioner/pr1' } }]);
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual(stu3);
  });

  it('the renamed statuses convert both ways', () => {
    expect(toR4({ resourceType: 'Procedure', status: 'suspended', subject: patient }).status).toBe('on-hold');
    expect(toR4({ resourceType: 'Procedure', status: 'aborted', subject: patient }).status).toBe('stopped');
    expect(toStu3({ resourceType: 'Procedure', status: 'stopped', subject: patient }).status).toBe('aborted');
  });
});

describe('Observation', () => {
  it('comment is a note; related has-member and derived-from are hasMember and derivedFrom; other relations are kept', () => {
    const stu3: Resource = {
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'pijnscore' },
      comment: 'na medicatie',
      related: [
        { type: 'has-member', target: { reference: 'Observation/o1' } },
        { type: 'replaces', target: { reference: 'Observation/o0' } },
      ],
      interpretation: { text: 'hoog' },
    };
    const r4 = toR4(stu3);
    expect(r4).toMatchObject({
      note: [{ text: 'na medicatie' }],
      hasMember: [{ reference: 'Observation/o1' }],
      interpretation: [{ text: 'hoog' }],
    });
    expect(r4.extension).toHaveLength(2);
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual(stu3);
  });
});

describe('Encounter', () => {
  it('class gets the R4 v3 code system URI; diagnosis.role is diagnosis.use; reason is reasonCode', () => {
    const stu3: Resource = {
      resourceType: 'Encounter',
      status: 'finished',
      class: { system: 'http://hl7.org/fhir/v3/ActCode', code: 'IMP' },
      reason: [{ text: 'val' }],
      diagnosis: [{ condition: { reference: 'Condition/c1' }, role: { coding: [{ system: 'http://hl7.org/fhir/diagnosis-role', code: 'AD' }] } }],
    };
    const r4 = toR4(stu3);
    expect(r4).toMatchObject({
      class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'IMP' },
      reasonCode: [{ text: 'val' }],
      diagnosis: [{ condition: { reference: 'Condition/c1' }, use: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/diagnosis-role', code: 'AD' }] } }],
    });
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual(stu3);
  });

  it('an Encounter without the class R4 requires gets a data-absent-reason', () => {
    const r4 = toR4({ resourceType: 'Encounter', status: 'planned' });
    expect(r4.class).toEqual(DATA_ABSENT);
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual({ resourceType: 'Encounter', status: 'planned' });
  });
});

describe('Coverage', () => {
  it('grouping becomes typed class entries; sequence has no R4 place; status, beneficiary and payor are required in R4', () => {
    const stu3: Resource = {
      resourceType: 'Coverage',
      grouping: { group: 'G1', groupDisplay: 'Groep 1', plan: 'basis' },
      sequence: '1',
    };
    const r4 = toR4(stu3);
    expect(r4).toEqual({
      resourceType: 'Coverage',
      extension: [{ url: `${R3}Coverage.sequence`, valueString: '1' }],
      _status: DATA_ABSENT,
      beneficiary: DATA_ABSENT,
      class: [
        { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code: 'group' }] }, value: 'G1', name: 'Groep 1' },
        { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/coverage-class', code: 'plan' }] }, value: 'basis' },
      ],
      payor: [DATA_ABSENT],
    });
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual(stu3);
  });
});

describe('Composition', () => {
  it('class is category; an attester with two modes keeps the first in R4 and both on the way back', () => {
    const stu3: Resource = {
      resourceType: 'Composition',
      status: 'final',
      type: { text: 'overdracht' },
      class: { text: 'verpleegkundig' },
      subject: patient,
      date: '2024-05-01',
      author: [{ reference: 'Practitioner/pr1' }],
      title: 'Overdracht',
      confidentiality: 'N',
      attester: [{ mode: ['legal', 'professional'], party: { reference: 'Practitioner/pr1' } }],
      section: [{ title: 'a', text: { status: 'generated', div: '<div xmlns="http://www.w3.org/1999/xhtml">a</div>' } }],
    };
    const r4 = toR4(stu3);
    expect(r4.category).toEqual([{ text: 'verpleegkundig' }]);
    expect(r4.attester).toEqual([
      {
        extension: [
          { url: `${R3}Composition.attester.mode`, valueCode: 'legal' },
          { url: `${R3}Composition.attester.mode`, valueCode: 'professional' },
        ],
        mode: 'legal',
        party: { reference: 'Practitioner/pr1' },
      },
    ]);
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual(stu3);
  });

  it('an R4 Composition without a subject gets the data-absent-reason STU3 requires', () => {
    const r4: Resource = { resourceType: 'Composition', status: 'final', type: { text: 't' }, date: '2024-05-01', author: [{ display: 'x' }], title: 't' };
    const stu3 = toStu3(r4);
    expect(stu3.subject).toEqual(DATA_ABSENT);
    expect(toR4(stu3)).toEqual(r4);
  });
});

describe('zib-MedicalDevice: DeviceUseStatement and Device', () => {
  it('indication is reasonCode; udi is udiCarrier, model is modelNumber, the version string a version entry', () => {
    const use: Resource = { resourceType: 'DeviceUseStatement', status: 'active', subject: patient, device: { reference: 'Device/d1' }, indication: [{ text: 'decubitus' }] };
    const r4Use = toR4(use);
    expect(r4Use.reasonCode).toEqual([{ text: 'decubitus' }]);
    expect(toStu3(r4Use)).toEqual(use);

    const device: Resource = {
      resourceType: 'Device',
      udi: { deviceIdentifier: '0123', carrierHRF: '(01)0123', name: 'antidecubitusmatras' },
      model: 'AD-2',
      version: '2.1',
      patient,
    };
    const r4 = toR4(device);
    expect(r4).toMatchObject({ udiCarrier: [{ deviceIdentifier: '0123', carrierHRF: '(01)0123' }], modelNumber: 'AD-2', version: [{ value: '2.1' }] });
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual(device);
  });
});

describe('zib-NutritionAdvice and zib-HelpFromOthers: NutritionOrder and CarePlan', () => {
  it('renamed statuses; R4 requires NutritionOrder.intent, so it gets a data-absent-reason', () => {
    const order: Resource = { resourceType: 'NutritionOrder', status: 'requested', patient, dateTime: '2024-05-01', oralDiet: { type: [{ text: 'energieverrijkt' }] } };
    const r4 = toR4(order);
    expect(r4).toMatchObject({ status: 'active', _intent: DATA_ABSENT });
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual(order);
    expect(toStu3({ ...order, status: 'revoked', intent: 'order' }).status).toBe('cancelled');
  });

  it('CarePlan: suspended is on-hold, activity.detail.prohibited is doNotPerform and its statusReason a CodeableConcept', () => {
    const plan: Resource = {
      resourceType: 'CarePlan',
      status: 'suspended',
      intent: 'plan',
      subject: patient,
      author: [{ reference: 'Practitioner/pr1' }],
      activity: [{ detail: { status: 'on-hold', statusReason: 'ziekenhuisopname', prohibited: false, description: 'boodschappen' } }],
    };
    const r4 = toR4(plan);
    expect(r4).toMatchObject({
      status: 'on-hold',
      author: { reference: 'Practitioner/pr1' },
      activity: [{ detail: { status: 'on-hold', statusReason: { text: 'ziekenhuisopname' }, doNotPerform: false, description: 'boodschappen' } }],
    });
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual(plan);
  });
});

describe('references the other release does not allow', () => {
  it('an R4 reference to a PractitionerRole where STU3 allows a Practitioner becomes the Nictiz practitionerrole-reference', () => {
    const role = { reference: 'PractitionerRole/pr1', type: 'PractitionerRole', display: 'verpleegkundige' };
    const r4: Resource = { resourceType: 'Encounter', status: 'finished', class: { code: 'IMP' }, participant: [{ individual: role }] };
    const stu3 = toStu3(r4);
    expect(stu3.participant).toEqual([
      {
        individual: {
          extension: [
            {
              url: 'http://nictiz.nl/fhir/StructureDefinition/practitionerrole-reference',
              valueReference: {
                extension: [{ url: `${R4}Reference.type`, valueUri: 'PractitionerRole' }],
                reference: 'PractitionerRole/pr1',
                display: 'verpleegkundige',
              },
            },
          ],
          display: 'verpleegkundige',
        },
      },
    ]);
    expect(toR4(stu3)).toEqual(r4);
  });

  it('a reference to a resource type the target release lacks is kept aside', () => {
    const stu3: Resource = {
      resourceType: 'Procedure',
      status: 'completed',
      subject: patient,
      basedOn: [{ reference: 'CarePlan/cp1' }, { reference: 'ProcedureRequest/pr1' }],
    };
    const r4 = toR4(stu3);
    expect(r4.basedOn).toEqual([{ reference: 'CarePlan/cp1' }]);
    expect(r4.extension).toEqual([
      { url: `${R3}Procedure.basedOn`, valueReference: { reference: 'CarePlan/cp1' } },
      { url: `${R3}Procedure.basedOn`, valueReference: { reference: 'ProcedureRequest/pr1' } },
    ]);
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual(stu3);
  });
});

describe('datatypes and extensions', () => {
  it('STU3 Money in an extension becomes R4 Money with a currency', () => {
    const stu3: Resource = {
      resourceType: 'Patient',
      extension: [{ url: 'http://example.org/eigen-bijdrage', valueMoney: { value: 12.5, system: 'urn:iso:std:iso:4217', code: 'EUR' } }],
    };
    const r4 = toR4(stu3);
    expect(r4.extension).toEqual([{ url: 'http://example.org/eigen-bijdrage', valueMoney: { value: 12.5, currency: 'EUR' } }]);
    expect(toStu3(r4)).toEqual(stu3);
  });

  it('a STU3 Patient.animal travels as a complex cross-version extension', () => {
    const stu3: Resource = { resourceType: 'Patient', animal: { species: { text: 'hond' }, breed: { text: 'tekkel' } } };
    const r4 = toR4(stu3);
    expect(r4.extension).toEqual([
      { url: `${R3}Patient.animal`, extension: [{ url: 'species', valueCodeableConcept: { text: 'hond' } }, { url: 'breed', valueCodeableConcept: { text: 'tekkel' } }] },
    ]);
    expect(baseR4Errors(r4)).toEqual([]);
    expect(toStu3(r4)).toEqual(stu3);
  });

  it('an R4 extension value of a URI type STU3 lacks becomes valueUri (the type tag is lost)', () => {
    const r4: Resource = { resourceType: 'Patient', extension: [{ url: 'http://example.org/bron', valueCanonical: 'http://example.org/Questionnaire/q' }] };
    const stu3 = toStu3(r4);
    expect(stu3.extension).toEqual([{ url: 'http://example.org/bron', valueUri: 'http://example.org/Questionnaire/q' }]);
    expect(toR4(stu3).extension).toEqual([{ url: 'http://example.org/bron', valueUri: 'http://example.org/Questionnaire/q' }]);
  });

  it('a primitive keeps its id and extensions, in repeating elements too', () => {
    const stu3: Resource = {
      resourceType: 'Patient',
      name: [{ given: ['A', 'B'], _given: [null, { id: 'g2', extension: [{ url: 'http://example.org/x', valueCode: 'IN' }] }] }],
    };
    expect(toStu3(toR4(stu3))).toEqual(stu3);
    expect(toR4(stu3).name).toEqual(stu3.name);
  });

  it('contained resources are converted too', () => {
    const stu3: Resource = {
      resourceType: 'Task',
      contained: [{ resourceType: 'Condition', id: 'c', clinicalStatus: 'resolved', subject: patient }],
      status: 'requested',
      intent: 'order',
    };
    const r4 = toR4(stu3);
    expect((r4.contained as Resource[])[0].clinicalStatus).toMatchObject({ coding: [{ code: 'resolved' }] });
    expect(toStu3(r4)).toEqual(stu3);
  });
});

describe('what the converter refuses', () => {
  const refusal = (expression: string) =>
    expect.objectContaining({ outcome: expect.objectContaining({ id: 'unprocessable', issue: [expect.objectContaining({ expression: [expression] })] }) });

  it('a resource type it does not convert, naming where it is', () => {
    expect(() => toR4({ resourceType: 'MedicationStatement' })).toThrow(refusal('MedicationStatement'));
    const bundle: Resource = { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient' } }, { resource: { resourceType: 'Consent' } }] };
    expect(() => toR4(bundle)).toThrow(refusal('Bundle.entry[1].resource'));
    const task: Resource = { resourceType: 'Task', status: 'requested', intent: 'order', contained: [{ resourceType: 'Immunization' }] };
    expect(() => toStu3(task)).toThrow(refusal('Task.contained[0]'));
  });

  it('elements the release does not define and values of the wrong shape', () => {
    expect(() => toR4({ resourceType: 'Task', status: 'requested', intent: 'order', bogus: 1 })).toThrow(refusal('Task.bogus'));
    expect(() => toR4({ resourceType: 'Task', status: 'requested', intent: 'order', for: 'Patient/1' })).toThrow(refusal('Task.for'));
  });

  it('nothing when both releases are the same', () => {
    const patientResource: Resource = { resourceType: 'Patient', id: 'p' };
    expect(convertResource(patientResource, { from: 'r4', to: 'r4' })).toBe(patientResource);
  });
});
